// The README's codegen.js run on a live endpoint's schema (by introspection):
// prints the generated Scalars block and the scalars that came out as any/unknown.
import { hostUrl } from "./localhost.mjs";
import { generate } from "@graphql-codegen/cli";

process.env.GRAPHQL_SCHEMA_URL = hostUrl(process.argv[2]);
const { default: config } = await import("./snippets/codegen.js");
const [output] = await generate({ ...config, silent: true }, false);
const block = output.content.match(/export type Scalars = \{([\s\S]*?)\n\};/)[1];
const scalars = {};
for (const [, name, input, outputType] of block.matchAll(
  /(\w+): \{ input: ([^;]+); output: ([^;]+); \}/g,
)) {
  scalars[name] = { input, output: outputType };
}
const loose = Object.entries(scalars)
  .filter(([, t]) => /\b(any|unknown)\b/.test(t.input + t.output))
  .map(([name]) => name);
console.log(JSON.stringify({ scalars, loose, bytes: output.content.length }));
