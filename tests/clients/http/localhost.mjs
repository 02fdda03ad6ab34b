// Every *.localhost name resolves to the loopback address, as browsers do, so
// the clients can use a region's real address (http://yunnan.localhost:PORT)
// and send its Host header; Node's resolver does not know these names.
import dns from "node:dns";
import { Agent, setGlobalDispatcher } from "undici";

function lookup(hostname, options, callback) {
  const address = "127.0.0.1";
  if (options && options.all) callback(null, [{ address, family: 4 }]);
  else callback(null, address, 4);
}

setGlobalDispatcher(new Agent({ connect: { lookup } }));
// Node's http module (some libraries' fetch, e.g. graphql-codegen's loader) asks dns.
const systemLookup = dns.lookup;
dns.lookup = (hostname, options, callback) => {
  if (typeof options === "function") [options, callback] = [{}, options];
  if (hostname.endsWith(".localhost") || hostname === "localhost") {
    return lookup(hostname, options, callback);
  }
  return systemLookup(hostname, options, callback);
};

const base = new URL(process.env.BASE_URL);

/** The address of a host ("localhost" for central, "<slug>.localhost" for a region). */
export function hostUrl(host, path = "/graphql") {
  return `${base.protocol}//${host}:${base.port}${path}`;
}
