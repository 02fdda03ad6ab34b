// The GraphQL-over-HTTP conformance audits of the graphql-http package, run
// against one endpoint; prints each audit's id, level, name and outcome.
import { hostUrl } from "./localhost.mjs";
import { auditServer } from "graphql-http";

const host = process.argv[2];
const results = await auditServer({ url: hostUrl(host) });
console.log(
  JSON.stringify(
    results.map((r) => ({
      id: r.id,
      name: r.name,
      status: r.status,
      reason: r.status === "ok" ? null : r.reason,
    })),
  ),
);
