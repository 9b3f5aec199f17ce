// SPDX-License-Identifier: MIT
// llama.cpp (through node-llama-cpp's prebuilt CPU libraries) as a reference:
// for each prompt, the prompt's token ids as llama.cpp tokenizes them (BOS
// included when the model asks for it), the greedy continuation of N tokens
// and, at every generated position, the top-5 raw logits.
//
// usage: node llama_ref.mjs NODE_MODULES_DIR MODEL.gguf N
//            (--prompt TEXT | --prompts FILE)... [--follow IDS] [--threads T]
//            > out.json
// FILE: *.json is an array of strings or {"cases": [{"prompt": ...}, ...]}
// (the shape of shared/models/*-reference.json); any other file holds one
// prompt a line.
// IDS: one line per prompt of token ids (another engine's greedy tokens):
// llama.cpp is fed these instead of its own picks, and reports at each
// position its own pick, its top-5 and its logit of the fed token, so every
// position is compared even after the two engines part on a near-tie.
//
// Sampling is llama.cpp's greedy sampler alone (temperature 0: no penalty,
// top-k/p or min-p in the chain), so the logits it returns are the model's
// raw ones. Two threads (or --threads T), one sequence, no flash
// attention: a fixed configuration, so the same file gives the same output
// on any run. ggml computes each output element of the ops a llama model
// uses on one thread, so T does not change the numbers (one and two gave
// the same JSON on stories260K); but on a loaded machine threads wait at
// every op's barrier for a descheduled peer (3 prompts x 64 tokens: 4 s
// with one thread, 277 s with two at a load of 9 on 2 cores).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const TOP = 5;

function die(msg)
{
	process.stderr.write(`llama_ref: ${msg}\n`);
	process.exit(2);
}

// The string a `const char *` data symbol of a shared library points to
// (llama.cpp's LLAMA_COMMIT): its value is the address of the pointer, which
// holds a relative relocation whose addend is the string's address.
function elfPointedString(file, symbol)
{
	const b = fs.readFileSync(file);
	const u64 = (o) => Number(b.readBigUInt64LE(o));
	const shoff = u64(0x28), shsize = b.readUInt16LE(0x3a), shnum = b.readUInt16LE(0x3c);
	const sec = [];
	for (let i = 0; i < shnum; i++) {
		const o = shoff + i * shsize;
		sec.push({ type: b.readUInt32LE(o + 4), addr: u64(o + 0x10), off: u64(o + 0x18),
			   size: u64(o + 0x20), link: b.readUInt32LE(o + 0x28) });
	}
	const cstr = (o) => b.toString("latin1", o, b.indexOf(0, o));
	const dynsym = sec.find((s) => s.type === 11);	/* SHT_DYNSYM */
	let where = null;
	for (let o = dynsym.off; o < dynsym.off + dynsym.size; o += 24)
		if (cstr(sec[dynsym.link].off + b.readUInt32LE(o)) === symbol)
			where = u64(o + 8);
	for (const s of sec.filter((x) => x.type === 4))	/* SHT_RELA */
		for (let o = s.off; o < s.off + s.size; o += 24)
			if (u64(o) === where && b.readUInt32LE(o + 8) === 8) {	/* R_X86_64_RELATIVE */
				const a = u64(o + 16);
				const t = sec.find((x) => x.type !== 8 && x.addr && a >= x.addr &&
						   a < x.addr + x.size);
				return t ? cstr(t.off + a - t.addr) : null;
			}
	return null;
}

// What was loaded: the package versions, llama.cpp's release and commit, and
// the CPU variant ggml picked (the libggml-cpu-*.so mapped into this process).
function buildInfo(llama, nm, threads)
{
	const pkg = (p) => JSON.parse(fs.readFileSync(path.join(nm, p, "package.json"), "utf8")).version;
	const libs = fs.readFileSync("/proc/self/maps", "utf8").split("\n")
		.map((l) => l.split(/\s+/).pop()).filter((f) => /\.so$|\.node$/.test(f));
	const variant = libs.map((f) => /libggml-cpu-([\w-]+)\.so$/.exec(f)).find((m) => m);
	const common = libs.find((f) => /libllama-common\.so$/.test(f));
	let commit = null;

	try {
		commit = common ? elfPointedString(common, "LLAMA_COMMIT") : null;
	} catch {
		/* not an x86-64 ELF we can read: leave it unknown */
	}
	return {
		node_llama_cpp: pkg("node-llama-cpp"),
		binaries: `@node-llama-cpp/linux-x64@${pkg("@node-llama-cpp/linux-x64")}`,
		build_type: llama.buildType,
		llama_cpp_release: llama.llamaCppRelease.release,
		llama_cpp_commit: commit,
		cpu_variant: variant ? variant[1] : null,
		addon: libs.find((f) => /llama-addon\.node$/.test(f)) ?? null,
		threads,
		system_info: llama.systemInfo.trim(),
	};
}

function readPrompts(file)
{
	const text = fs.readFileSync(file, "utf8");
	if (!file.endsWith(".json"))
		return text.split("\n").filter((l) => l.length);
	const j = JSON.parse(text);
	const list = Array.isArray(j) ? j : (j.cases ?? []).map((c) => c.prompt);

	if (!list.length || list.some((p) => typeof p !== "string"))
		die(`${file}: want an array of prompt strings or {"cases": [{"prompt": ...}]}`);
	return list;
}

// One input token with a request for llama.cpp's next token, its top logits
// and the logit of the token that will be fed next (when following).
function withNext(tok, fed)
{
	const filter = { includeTop: TOP, tokens: fed === undefined ? [] : [fed] };

	return [tok, { generateNext: { token: true, logits: { filter },
				       options: { temperature: 0 } } }];
}

async function greedy(model, seq, prompt, n, follow)
{
	const ids = model.tokenize(prompt, false);
	const bos = model.tokens.bos;

	if (model.tokens.shouldPrependBosToken && bos !== null)
		ids.unshift(bos);
	await seq.clearHistory();
	const tokens = [], top = [], fedLogit = [];
	let input = ids.map((t, i) => (i === ids.length - 1 ? withNext(t, follow[0]) : t));

	for (let i = 0; i < n; i++) {
		const res = await seq.controlledEvaluate(input);
		const next = res[input.length - 1]?.next;

		if (!next || next.token == null)
			die(`prompt ${JSON.stringify(prompt)}: llama.cpp returned no token at position ${i}`);
		tokens.push(next.token);
		top.push([...next.logits].sort((a, b) => b[1] - a[1]).slice(0, TOP));
		if (i < follow.length)
			fedLogit.push(next.logits.get(follow[i]) ?? null);
		const t = i < follow.length ? follow[i] : next.token;
		input = [withNext(t, follow[i + 1])];
	}
	const r = { prompt, prompt_tokens: ids, tokens, top };

	if (follow.length) {
		r.followed = follow.slice(0, n);
		r.followed_logit = fedLogit;
	}
	return r;
}

async function main()
{
	const [nm, modelPath, nArg, ...rest] = process.argv.slice(2);
	const n = Number(nArg);
	const prompts = [];
	let follow = [], threads = 2;

	if (!nm || !modelPath || !(n > 0))
		die("usage: llama_ref.mjs NODE_MODULES_DIR MODEL.gguf N (--prompt TEXT | --prompts FILE)...");
	for (let i = 0; i < rest.length; i += 2) {
		if (rest[i] === "--prompt" && rest[i + 1] !== undefined)
			prompts.push(rest[i + 1]);
		else if (rest[i] === "--prompts" && rest[i + 1] !== undefined)
			prompts.push(...readPrompts(rest[i + 1]));
		else if (rest[i] === "--follow" && rest[i + 1] !== undefined)
			follow = fs.readFileSync(rest[i + 1], "utf8").split("\n")
				.map((l) => l.trim().split(/\s+/).filter(Boolean).map(Number));
		else if (rest[i] === "--threads" && Number(rest[i + 1]) >= 1)
			threads = Number(rest[i + 1]);
		else
			die(`unknown argument '${rest[i]}' (want --prompt TEXT, --prompts FILE, --follow IDS ` +
			    "or --threads T)");
	}
	if (!prompts.length)
		die("no prompt given (--prompt TEXT or --prompts FILE)");

	const nlc = await import(pathToFileURL(path.join(nm, "node-llama-cpp", "dist", "index.js")));
	// build "never": the prebuilt binaries or an error, never a compile or a download
	const llama = await nlc.getLlama({ gpu: false, build: "never", maxThreads: threads,
					   logLevel: nlc.LlamaLogLevel.error });
	const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
	const longest = Math.max(...prompts.map((p) => model.tokenize(p, false).length));
	const context = await model.createContext({
		contextSize: Math.max(256, longest + n + 2),
		batchSize: Math.max(256, longest + 2),
		sequences: 1,
		threads: { ideal: threads, min: threads },
		flashAttention: false,
	});
	const seq = context.getSequence();
	const results = [];

	if (follow.length && follow.length < prompts.length)
		die(`--follow: ${follow.length} lines of ids for ${prompts.length} prompts`);
	for (const [k, p] of prompts.entries())
		results.push(await greedy(model, seq, p, n, follow[k] ?? []));
	const out = { llama_cpp: buildInfo(llama, nm, threads), model: modelPath, n_predict: n, results };

	process.stdout.write(JSON.stringify(out) + "\n");
	await context.dispose();
	await model.dispose();
	await llama.dispose();
}

main().catch((e) => die(e?.stack ?? String(e)));
