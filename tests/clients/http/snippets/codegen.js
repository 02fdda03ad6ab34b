// codegen.js (an ES module): npx graphql-codegen --config codegen.js
/** @type {import("@graphql-codegen/cli").CodegenConfig} */
export default {
  schema: process.env.GRAPHQL_SCHEMA_URL ?? "http://chongqing.localhost:8000/graphql",
  generates: {
    "src/graphql/schema.ts": {
      plugins: [
        {
          add: {
            content:
              "export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };",
          },
        },
        "typescript",
      ],
      config: {
        strictScalars: true, // an unmapped custom scalar fails the build instead of becoming `any`
        scalars: {
          Date: "string", // RFC 3339 full-date, 2026-12-06
          DateTime: "string", // RFC 3339 date-time with offset
          Time: "string", // RFC 3339 partial-time, 09:30:00
          Decimal: { input: "string | number", output: "string" }, // exact: "7.5"
          JSON: "JsonValue", // ECMA-404
          Upload: { input: "File | Blob", output: "never" }, // multipart request spec
        },
      },
    },
  },
};
