// SPDX-License-Identifier: MIT
// An f64 reference for the divergence study (docs/interop.md): the llama
// forward pass of an F32 GGUF model in double precision, along the tokens
// that llama_ref.mjs --follow fed llama.cpp, and how far Ember's and
// llama.cpp's logits are from it.
//
// usage: node f64_ref.mjs [--round LIST] MODEL.gguf REF.json [EMBER_STDERR...]
// LIST: which values are rounded to f16 (round to nearest even) where
// llama.cpp's CPU path rounds them, comma-separated (default none):
//   kv  K (after RoPE) and V as stored in an f16 KV cache;
//   q   Q (after RoPE, before the 1/sqrt(head_dim) scale), as ggml's
//       mul_mat converts it for the dot with the f16 K cache;
//   p   the normalised softmax weights, as mul_mat converts them for the
//       product with the f16 V cache (no flash attention).
// Everything else is f64. REF.json: llama_ref.mjs's output with --follow;
// EMBER_STDERR: ember-run --ids --top-logits K's stderr, one per prompt.
//
// Prints, where the engines' picks differ, the reference's logit of
// Ember's pick minus its logit of llama.cpp's (positive: the reference
// sides with Ember); then for llama.cpp (its top 5 and its logit of the fed
// token) and for Ember (its top K): max and mean |logit - reference| over
// those ids, and at how many positions the engine's pick is not the
// reference's argmax (with the largest reference margin such a pick lost
// by).
import fs from "node:fs";

function die(msg)
{
	process.stderr.write(`f64_ref: ${msg}\n`);
	process.exit(2);
}

// ---- GGUF (v2/v3, F32 tensors) ----------------------------------------

function readGguf(file)
{
	const b = fs.readFileSync(file);
	let o = 0;
	const u32 = () => { o += 4; return b.readUInt32LE(o - 4); };
	const u64 = () => { o += 8; return Number(b.readBigUInt64LE(o - 8)); };
	const str = () => { const n = u64(); o += n; return b.toString("utf8", o - n, o); };
	const scalar = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];

	function value(t)
	{
		switch (t) {
		case 4: return u32();
		case 5: o += 4; return b.readInt32LE(o - 4);
		case 6: o += 4; return b.readFloatLE(o - 4);
		case 8: return str();
		case 9: {
			const et = u32(), n = u64(), a = [];

			for (let i = 0; i < n; i++)
				a.push(value(et));
			return a;
		}
		case 10: return u64();
		case 12: o += 8; return b.readDoubleLE(o - 8);
		default:
			if (!(t in scalar) || !scalar[t])
				die(`${file}: unknown metadata type ${t}`);
			o += scalar[t];
			return null;
		}
	}
	if (b.toString("latin1", 0, 4) !== "GGUF")
		die(`${file} is not a GGUF file`);
	o = 4;
	if (u32() < 2)
		die(`${file}: GGUF version 1 is not supported`);
	const nt = u64(), nkv = u64(), kv = {}, tensors = {};

	for (let i = 0; i < nkv; i++) {
		const k = str();

		kv[k] = value(u32());
	}
	for (let i = 0; i < nt; i++) {
		const name = str(), nd = u32(), ne = [];

		for (let j = 0; j < nd; j++)
			ne.push(u64());
		tensors[name] = { ne, type: u32(), offset: u64() };
	}
	const align = kv["general.alignment"] ?? 32;
	const base = Math.ceil(o / align) * align;

	for (const [name, t] of Object.entries(tensors)) {
		if (t.type !== 0)
			die(`${file}: tensor ${name} is not F32 (type ${t.type}); this reference reads F32 only`);
		const n = t.ne.reduce((a, x) => a * x, 1), f = new Float64Array(n);

		for (let i = 0; i < n; i++)
			f[i] = b.readFloatLE(base + t.offset + 4 * i);
		t.data = f;
	}
	return { kv, tensors };
}

// ---- rounding ------------------------------------------------------------

// x to the nearest f16 (ties to even) after rounding it to f32, as
// llama.cpp converts an f32 tensor; f16's range is not exceeded here.
function f16(x)
{
	x = Math.fround(x);
	const a = Math.abs(x);

	if (a === 0 || !Number.isFinite(a))
		return x;
	let e = Math.floor(Math.log2(a));

	if (2 ** e > a)
		e--;
	else if (2 ** (e + 1) <= a)
		e++;
	const q = 2 ** (Math.max(e, -14) - 10), y = a / q, fl = Math.floor(y), d = y - fl;
	const r = d > 0.5 || (d === 0.5 && fl % 2) ? fl + 1 : fl;

	return Math.sign(x) * r * q;
}

// ---- the model -------------------------------------------------------------

function loadModel(file)
{
	const { kv, tensors } = readGguf(file);
	const arch = kv["general.architecture"];
	const hp = (k, def) => kv[`${arch}.${k}`] ?? def;
	const t = (name) => tensors[name]?.data;

	if (arch !== "llama")
		die(`${file}: architecture ${arch}; this reference computes llama only`);
	const m = {
		embd: hp("embedding_length"), layers: hp("block_count"), ff: hp("feed_forward_length"),
		heads: hp("attention.head_count"), eps: hp("attention.layer_norm_rms_epsilon", 1e-5),
		base: hp("rope.freq_base", 10000), tok: t("token_embd.weight"),
		outNorm: t("output_norm.weight"), blk: [],
	};

	m.kvHeads = hp("attention.head_count_kv", m.heads);
	m.hd = m.embd / m.heads;
	m.ropeDim = hp("rope.dimension_count", m.hd);
	m.out = t("output.weight") ?? m.tok;
	m.vocab = m.tok.length / m.embd;
	for (let l = 0; l < m.layers; l++) {
		const w = (n) => t(`blk.${l}.${n}.weight`);

		m.blk.push({ an: w("attn_norm"), q: w("attn_q"), k: w("attn_k"), v: w("attn_v"),
			     o: w("attn_output"), fn: w("ffn_norm"), gate: w("ffn_gate"),
			     up: w("ffn_up"), down: w("ffn_down") });
	}
	return m;
}

// out[i] = sum_j w[i * n + j] x[j] (ggml's layout: rows of n inputs)
function matvec(w, x, nOut, out, add)
{
	const n = x.length;

	for (let i = 0; i < nOut; i++) {
		let s = 0;

		for (let j = 0, r = i * n; j < n; j++)
			s += w[r + j] * x[j];
		out[i] = add ? out[i] + s : s;
	}
}

function rmsnorm(x, w, eps)
{
	let s = 0;

	for (const v of x)
		s += v * v;
	const k = 1 / Math.sqrt(s / x.length + eps);

	return x.map((v, i) => v * k * w[i]);
}

// RoPE of llama.cpp's mode 0: pairs (2i, 2i + 1) of each head rotated by
// pos * base^(-2i / ropeDim)
function rope(m, v, nHeads, pos)
{
	for (let h = 0; h < nHeads; h++)
		for (let i = 0; i < m.ropeDim; i += 2) {
			const th = pos * m.base ** (-i / m.ropeDim), c = Math.cos(th), s = Math.sin(th);
			const a = h * m.hd + i, x0 = v[a], x1 = v[a + 1];

			v[a] = x0 * c - x1 * s;
			v[a + 1] = x0 * s + x1 * c;
		}
}

// The logits after each token of toks, from index `from` on.
function run(m, toks, from, round)
{
	const d = m.embd, kvd = m.kvHeads * m.hd, grp = m.heads / m.kvHeads;
	const K = m.blk.map(() => []), V = m.blk.map(() => []), res = [];

	for (let pos = 0; pos < toks.length; pos++) {
		const x = m.tok.slice(toks[pos] * d, (toks[pos] + 1) * d);

		for (let l = 0; l < m.layers; l++) {
			const b = m.blk[l], xn = rmsnorm(x, b.an, m.eps);
			const q = new Float64Array(d), k = new Float64Array(kvd), v = new Float64Array(kvd);

			matvec(b.q, xn, d, q);
			matvec(b.k, xn, kvd, k);
			matvec(b.v, xn, kvd, v);
			rope(m, q, m.heads, pos);
			rope(m, k, m.kvHeads, pos);
			K[l].push(round.kv ? k.map(f16) : k);
			V[l].push(round.kv ? v.map(f16) : v);
			const att = new Float64Array(d), scale = 1 / Math.sqrt(m.hd);

			for (let h = 0; h < m.heads; h++) {
				const g = (h / grp) | 0, qo = h * m.hd, ko = g * m.hd;
				const qh = q.slice(qo, qo + m.hd).map(round.q ? f16 : (y) => y);
				const s = K[l].map((kr) => {
					let t = 0;

					for (let i = 0; i < m.hd; i++)
						t += qh[i] * kr[ko + i];
					return t * scale;
				});
				const mx = Math.max(...s);
				let sum = 0;

				for (let j = 0; j < s.length; j++)
					sum += (s[j] = Math.exp(s[j] - mx));
				for (let j = 0; j < s.length; j++) {
					const p = round.p ? f16(s[j] / sum) : s[j] / sum;

					for (let i = 0; i < m.hd; i++)
						att[qo + i] += p * V[l][j][ko + i];
				}
			}
			matvec(b.o, att, d, x, true);
			const xf = rmsnorm(x, b.fn, m.eps), g = new Float64Array(m.ff),
			      u = new Float64Array(m.ff);

			matvec(b.gate, xf, m.ff, g);
			matvec(b.up, xf, m.ff, u);
			for (let i = 0; i < m.ff; i++)
				g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
			matvec(b.down, g, d, x, true);
		}
		if (pos >= from) {
			const logits = new Float64Array(m.vocab);

			matvec(m.out, rmsnorm(x, m.outNorm, m.eps), m.vocab, logits);
			res.push(logits);
		}
	}
	return res;
}

// ---- comparison --------------------------------------------------------

function argmax(a)
{
	let best = 0;

	for (let i = 1; i < a.length; i++)
		if (a[i] > a[best])
			best = i;
	return best;
}

function emberTop(text)
{
	const top = [];

	for (const m of text.matchAll(/^top-logits: (\d+)((?: \d+ \S+)+)$/gm)) {
		const f = m[2].trim().split(/\s+/).map(Number), pairs = [];

		for (let i = 0; i + 1 < f.length; i += 2)
			pairs.push([f[i], f[i + 1]]);
		top[Number(m[1])] = pairs;
	}
	return top;
}

function main()
{
	const args = process.argv.slice(2), round = {};

	if (args[0] === "--round") {
		for (const r of args[1].split(",").filter((x) => x && x !== "none")) {
			if (!["kv", "q", "p"].includes(r))
				die(`--round: '${r}' is not kv, q or p`);
			round[r] = true;
		}
		args.splice(0, 2);
	}
	const [modelFile, refFile, ...emberFiles] = args;

	if (!modelFile || !refFile)
		die("usage: f64_ref.mjs [--round kv,q,p] MODEL.gguf REF.json [EMBER_STDERR...]");
	const m = loadModel(modelFile), ref = JSON.parse(fs.readFileSync(refFile, "utf8"));

	if (emberFiles.length && emberFiles.length !== ref.results.length)
		die(`${ref.results.length} prompts in ${refFile}, ${emberFiles.length} ember-run outputs`);
	const stat = () => ({ max: 0, sum: 0, n: 0, off: 0, lost: 0 });
	const eng = { "llama.cpp": stat(), Ember: stat() };

	function judge(st, pairs, pick, L)
	{
		const best = argmax(L);

		for (const [id, l] of pairs) {
			const d = Math.abs(l - L[id]);

			st.max = Math.max(st.max, d);
			st.sum += d;
			st.n++;
		}
		if (pick !== best) {
			st.off++;
			st.lost = Math.max(st.lost, L[best] - L[pick]);
		}
	}
	let positions = 0;

	for (const [k, r] of ref.results.entries()) {
		if (!r.followed)
			die(`${refFile}: no followed tokens (run llama_ref.mjs with --follow)`);
		const toks = [...r.prompt_tokens, ...r.followed.slice(0, -1)];
		const all = run(m, toks, r.prompt_tokens.length - 1, round);
		const et = emberFiles.length ? emberTop(fs.readFileSync(emberFiles[k], "utf8")) : null;

		for (let i = 0; i < all.length; i++) {
			const pairs = [...r.top[i]], e = r.followed[i], l = r.tokens[i];

			if (e !== l)
				console.log(`prompt ${k + 1} position ${i}: Ember ${e}, llama.cpp ${l}: ` +
					    `reference ${(all[i][e] - all[i][l]).toFixed(5)}`);

			if (r.followed_logit[i] !== null)
				pairs.push([r.followed[i], r.followed_logit[i]]);
			judge(eng["llama.cpp"], pairs, r.tokens[i], all[i]);
			if (et)
				judge(eng.Ember, et[i] ?? [], r.followed[i], all[i]);
			positions++;
		}
	}
	const rs = Object.keys(round).join(",") || "none";

	console.log(`# f64 reference, f16 rounding of: ${rs}; ${ref.results.length} prompts, ` +
		    `${positions} positions`);
	for (const [name, st] of Object.entries(eng)) {
		if (!st.n)
			continue;
		console.log(`${name.padEnd(9)} |logit - ref| max ${st.max.toExponential(2)} mean ` +
			    `${(st.sum / st.n).toExponential(2)} over ${st.n}; picks other than the ` +
			    `reference's argmax: ${st.off}` + (st.off ? ` (lost by at most ${st.lost.toFixed(4)})` : ""));
	}
}

main();
