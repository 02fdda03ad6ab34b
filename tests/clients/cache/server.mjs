// What every client script shares: a fetch to the test server for one region's host
// (Node's own fetch will not send another Host header, and *.localhost names do not
// resolve here), a capture of console warnings, and printing the result as JSON.
import http from 'node:http';

export const BASE_URL = process.env.BASE_URL;
export const HOST = process.env.REGION_HOST;

export function regionFetch(input, init = {}) {
  const url = new URL(typeof input === 'string' ? input : input.url, BASE_URL);
  const headers = { ...Object.fromEntries(new Headers(init.headers || {})), host: HOST };
  const body = init.body ? Buffer.from(init.body) : null;
  if (body) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: init.method || 'GET', headers },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () =>
          resolve(
            new Response(Buffer.concat(chunks), {
              status: response.statusCode,
              headers: Object.entries(response.headers).map(([k, v]) => [k, String(v)]),
            }),
          ),
        );
      },
    );
    request.on('error', reject);
    if (body) request.write(body);
    request.end();
  });
}

export const warnings = [];
for (const level of ['warn', 'error']) {
  const original = console[level];
  console[level] = (...args) => {
    warnings.push(args.map(String).join(' '));
    original(...args);
  };
}

export function done(result) {
  process.stdout.write(JSON.stringify({ ...result, warnings }) + '\n');
}
