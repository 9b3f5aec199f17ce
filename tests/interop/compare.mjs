// SPDX-License-Identifier: MIT
// Compares Ember's greedy tokens with llama.cpp's: one TAP line per prompt
// (unnumbered: run-interop-test.sh numbers them).
//
// usage: node compare.mjs LABEL REL_TOL REF.json EMBER_STDERR...
// REF.json: llama_ref.mjs's output, run with --follow on Ember's tokens, so
// that at every position llama.cpp saw the same context as Ember.
// EMBER_STDERR: what `ember-run --ids` wrote to stderr, one file per prompt
// of REF.json in its order.
//
// The prompt: Ember's token ids ('prompt-ids:') must be llama.cpp's, BOS
// included (only their count when ember-run printed no such line).
//
// A position passes when Ember picked llama.cpp's token, or a token whose
// llama.cpp logit is within REL_TOL * max(1, |best|) of llama.cpp's best
// logit there: a near tie that the engines' different rounding (activations
// quantized to 8 bits in other block layouts, f16 K/V, summation order)
// decides one way or the other. REL_TOL 0: the tokens must be equal.
// ember-run prints no logits, so Ember's own logits are not compared.
// Exit 0 if every prompt passed, 1 if one did not, 2 on bad input.
import fs from "node:fs";

const [label, tolArg, refFile, ...emberFiles] = process.argv.slice(2);
const tol = Number(tolArg);

if (!label || !(tol >= 0) || !refFile) {
	process.stderr.write("usage: compare.mjs LABEL REL_TOL REF.json EMBER_STDERR...\n");
	process.exit(2);
}
const ref = JSON.parse(fs.readFileSync(refFile, "utf8"));
const fmt = (x) => x.toFixed(4);
const margin = (top) => (top.length > 1 ? top[0][1] - top[1][1] : Infinity);
let failed = 0;

if (emberFiles.length !== ref.results.length) {
	process.stderr.write(`compare: ${ref.results.length} prompts in ${refFile}, ` +
			     `${emberFiles.length} ember-run outputs\n`);
	process.exit(2);
}

function report(ok, what, notes)
{
	console.log(`${ok ? "ok" : "not ok"} - ${label}: ${what}`);
	for (const n of notes)
		console.log(`#   ${n}`);
	failed += !ok;
}

function check(r, err)
{
	const idsLine = /^ids:(.*)$/m.exec(err);
	const pre = /^prefill:.* for +(\d+) tokens/m.exec(err);
	const promptLine = /^prompt-ids:(.*)$/m.exec(err);
	const mine = promptLine ? promptLine[1].trim() : null;
	const sameIds = mine === r.prompt_tokens.join(" ");
	const what = `prompt ${JSON.stringify(r.prompt)} (${r.prompt_tokens.length} tokens` +
		`${sameIds ? ", ids equal" : ""})`;
	const n = r.tokens.length;

	if (!idsLine) {
		report(false, `${what}: ember-run printed no 'ids:' line`, err.trim().split("\n").slice(-8));
		return;
	}
	const ids = idsLine[1].trim().split(/\s+/).filter(Boolean).map(Number);
	const nPrompt = pre ? Number(pre[1]) : null;
	const notes = [];
	let ok = true;

	if (ids.length !== n || (r.followed ?? []).join(" ") !== ids.join(" ")) {
		report(false, `${what}: Ember gave ${ids.length} tokens for ${n}, or llama.cpp did not follow them`,
		       [`Ember: ${ids.join(" ")}`]);
		return;
	}
	if (promptLine) {
		if (!sameIds) {
			ok = false;
			notes.push(`the prompt's tokens differ: Ember ${mine}, llama.cpp ` +
				   `${r.prompt_tokens.join(" ")}`);
		}
	} else if (nPrompt !== r.prompt_tokens.length) {
		ok = false;
		notes.push(`the prompt is ${nPrompt ?? "?"} tokens in Ember, ` +
			   `${r.prompt_tokens.length} in llama.cpp (${r.prompt_tokens.join(" ")}): ` +
			   "the tokenizers differ");
	}
	if (new Set(r.tokens).size === 1)
		notes.push(`llama.cpp's continuation is token ${r.tokens[0]} repeated: a weak check`);

	// deficit: how far below llama.cpp's best Ember's token is, in
	// llama.cpp's logits; rel: that over the tolerance's scale
	const off = [];
	let minAt = -1;
	for (let i = 0; i < n; i++) {
		if (ids[i] === r.tokens[i]) {
			if (off.length === 0 && (minAt < 0 || margin(r.top[i]) < margin(r.top[minAt])))
				minAt = i;
			continue;
		}
		const l = r.followed_logit[i], best = r.top[i][0][1];
		const deficit = l === null ? Infinity : best - l;

		off.push({ i, deficit, rel: deficit / Math.max(1, Math.abs(best)) });
	}
	const closest = minAt < 0 ? "" : `smallest llama.cpp top-2 margin ${fmt(margin(r.top[minAt]))} ` +
		`at position ${minAt}`;

	if (!off.length) {
		report(ok, `${what}: ${n}/${n} tokens equal (${closest})`, notes);
		return;
	}
	const first = off[0], worst = off.reduce((a, b) => (b.rel > a.rel ? b : a));
	const line = (o) => `position ${o.i}: Ember ${ids[o.i]}, llama.cpp ${r.tokens[o.i]} ` +
		`(llama.cpp's top-2 margin ${fmt(margin(r.top[o.i]))}); Ember's token is ` +
		(o.deficit === Infinity ? "not even in the logits llama.cpp returned" :
		 `${fmt(o.deficit)} below llama.cpp's best ${fmt(r.top[o.i][0][1])} ` +
		 `(${(100 * o.rel).toFixed(2)}%)`);

	ok = ok && worst.rel <= tol;
	notes.unshift(line(first));
	if (worst !== first)
		notes.splice(1, 0, `largest: ${line(worst)}`);
	notes.push(`Ember:     ${ids.join(" ")}`, `llama.cpp: ${r.tokens.join(" ")} (its picks, fed Ember's tokens)`);
	report(ok, `${what}: tokens equal up to position ${first.i} of ${n}` +
	       (closest ? ` (${closest})` : "") + `; then ${off.length} ${ok ? "near-tie " : ""}pick(s) of another ` +
	       `token, the largest ${(100 * worst.rel).toFixed(2)}% below llama.cpp's best ` +
	       `(tolerance ${(100 * tol).toFixed(2)}%)`, notes);
}

ref.results.forEach((r, k) => check(r, fs.readFileSync(emberFiles[k], "utf8")));
process.exit(failed ? 1 : 0);
