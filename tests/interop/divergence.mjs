// SPDX-License-Identifier: MIT
// Where Ember's greedy tokens part from llama.cpp's, and by how much: one
// line per prompt, then counts (tests/interop/divergence.sh runs it).
//
// usage: node divergence.mjs REL_TOL MAX_DIFF REF.json EMBER_STDERR...
// REF.json: llama_ref.mjs's output with --follow on Ember's tokens (every
// position is judged in the same context); EMBER_STDERR: what
// `ember-run --ids --top-logits K` wrote, one file per prompt in order.
//
// A position diverges when the two engines' picks differ. Its margins:
//   llama.cpp's: its logit of its own pick minus its logit of Ember's pick;
//   Ember's: its logit of its own pick minus its logit of llama.cpp's pick
//   (">" when that token is not among Ember's top K);
// each also relative to max(1, |the engine's best logit|). A divergence is a
// near tie when llama.cpp's relative margin is at most REL_TOL: rounding
// that differs between the engines decides it either way.
// Also printed: how far the logits of the tokens both engines rank in their
// top 5 differ (max and mean |Ember - llama.cpp|), the scale of the
// numeric difference itself; its max must not exceed MAX_DIFF.
// Exit 0: every divergence a near tie and the logits within MAX_DIFF; 1:
// not, or the prompt was tokenized differently; 2: bad input.
import fs from "node:fs";

const [tolArg, maxArg, refFile, ...emberFiles] = process.argv.slice(2);
const tol = Number(tolArg), maxDiff = Number(maxArg);

if (!(tol >= 0) || !(maxDiff >= 0) || !refFile) {
	process.stderr.write("usage: divergence.mjs REL_TOL MAX_DIFF REF.json EMBER_STDERR...\n");
	process.exit(2);
}
const ref = JSON.parse(fs.readFileSync(refFile, "utf8"));

if (emberFiles.length !== ref.results.length) {
	process.stderr.write(`divergence: ${ref.results.length} prompts in ${refFile}, ` +
			     `${emberFiles.length} ember-run outputs\n`);
	process.exit(2);
}

const f4 = (x) => x.toFixed(4);
const pct = (x) => `${(100 * x).toFixed(3)}%`;
const short = (p) => JSON.stringify(p.length > 48 ? `${p.slice(0, 45)}...` : p);

// ember-run's stderr: ids, the prompt's ids (or only its length from older
// builds) and per position a Map id -> logit
function readEmber(text)
{
	const ids = /^ids:(.*)$/m.exec(text);
	const pre = /^prefill:.* for +(\d+) tokens/m.exec(text);
	const prompt = /^prompt-ids:(.*)$/m.exec(text);
	const top = [];

	for (const m of text.matchAll(/^top-logits: (\d+)((?: \d+ \S+)+)$/gm)) {
		const f = m[2].trim().split(/\s+/);
		const map = new Map();

		for (let i = 0; i + 1 < f.length; i += 2)
			map.set(Number(f[i]), Number(f[i + 1]));
		top[Number(m[1])] = map;
	}
	return {
		ids: ids ? ids[1].trim().split(/\s+/).filter(Boolean).map(Number) : null,
		nPrompt: pre ? Number(pre[1]) : null,
		promptIds: prompt ? prompt[1].trim() : null,
		top,
	};
}

let equal = 0, near = 0, bad = 0, positions = 0, divPositions = 0;
let dMax = 0, dSum = 0, dN = 0;

for (const [k, r] of ref.results.entries()) {
	const e = readEmber(fs.readFileSync(emberFiles[k], "utf8"));
	const tag = `${String(k + 1).padStart(3)} ${short(r.prompt)}`;
	const n = r.tokens.length;

	if (!e.ids || e.ids.length !== n || r.followed?.join(" ") !== e.ids.join(" ") ||
	    e.top.length !== n) {
		console.log(`not ok ${tag}: ember-run gave no ids or top-logits for ${n} positions, ` +
			    "or llama.cpp did not follow its tokens");
		bad++;
		continue;
	}
	if (e.promptIds !== null ? e.promptIds !== r.prompt_tokens.join(" ") :
	    e.nPrompt !== r.prompt_tokens.length) {
		console.log(`not ok ${tag}: the prompt's tokens differ: Ember ` +
			    `${e.promptIds ?? `${e.nPrompt} tokens`}, llama.cpp ${r.prompt_tokens.join(" ")}`);
		bad++;
		continue;
	}
	const div = [];

	for (let i = 0; i < n; i++) {
		const L = new Map(r.top[i]), E = e.top[i];

		positions++;
		for (const [id, l] of L)
			if (E.has(id)) {
				const d = Math.abs(E.get(id) - l);

				dMax = Math.max(dMax, d);
				dSum += d;
				dN++;
			}
		if (e.ids[i] === r.tokens[i])
			continue;
		const lBest = r.top[i][0][1], eBest = E.get(e.ids[i]);
		const lMargin = lBest - r.followed_logit[i];
		const eOther = E.get(r.tokens[i]);
		// not in Ember's top K: the margin is at least best - K-th
		const eMargin = eOther !== undefined ? eBest - eOther :
				eBest - Math.min(...E.values());

		div.push({ i, ember: e.ids[i], llama: r.tokens[i], lMargin,
			   lRel: lMargin / Math.max(1, Math.abs(lBest)),
			   eMargin, eLower: eOther === undefined,
			   eRel: eMargin / Math.max(1, Math.abs(eBest)) });
	}
	divPositions += div.length;
	if (!div.length) {
		equal++;
		console.log(`equal  ${tag}: ${n}/${n} tokens`);
		continue;
	}
	const d = div[0], worst = div.reduce((a, b) => (b.lRel > a.lRel ? b : a));
	const ok = worst.lRel <= tol;

	ok ? near++ : bad++;
	console.log(`${ok ? "near  " : "not ok"} ${tag}: first at ${d.i} (Ember ${d.ember}, llama.cpp ` +
		    `${d.llama}): llama.cpp margin ${f4(d.lMargin)} (${pct(d.lRel)}), Ember margin ` +
		    `${d.eLower ? ">" : ""}${f4(d.eMargin)} (${pct(d.eRel)}); ${div.length} of ${n} ` +
		    "positions differ" + (worst !== d ? `, the widest llama.cpp margin ${f4(worst.lMargin)} ` +
		    `(${pct(worst.lRel)}) at ${worst.i}` : ""));
}
const far = dMax > maxDiff;

console.log(`${far ? "not ok" : "#"} logits of the ids both rank top 5: |Ember - llama.cpp| max ` +
	    `${dMax.toExponential(2)} (at most ${maxDiff}), mean ${(dSum / Math.max(1, dN)).toExponential(2)} ` +
	    `over ${dN}`);
console.log(`# ${ref.results.length} prompts: ${equal} equal, ${near} diverge on near ties ` +
	    `(llama.cpp margin <= ${pct(tol)}), ${bad} fail; ${divPositions} of ${positions} ` +
	    "positions differ");
process.exit(bad || far ? 1 : 0);
