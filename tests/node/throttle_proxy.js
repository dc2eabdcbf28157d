// Cosmos DB's request-rate throttling, the one fault the emulator cannot cause: forwards every
// request to the emulator, except that every EVERY-th request for documents (batches and the
// others counted apart) is answered 429 with x-ms-retry-after-ms, as Cosmos DB answers when a
// partition's throughput is used up; a transactional batch is answered as Cosmos answers one it
// throttled: 207, its first operation 429 with retryAfterMilliseconds, the others 424. Prints
// "throttled" (or "throttled batch") for each such answer, and "early" when the client sent the
// refused request again before the time it was told to wait.
//
//   node throttle_proxy.js PORT TARGET_PORT EVERY RETRY_AFTER_MS
'use strict';
const http = require('http');

const [port, target, every, retryAfterMs] = process.argv.slice(2).map(Number);
const refusedAt = new Map();  // request (method, path, partition key) → when it was refused
const seen = { batch: 0, single: 0 };  // document requests so far, batches and the others

const server = http.createServer((request, response) => {
  const key = `${request.method} ${request.url} ${request.headers['x-ms-documentdb-partitionkey']}`;
  const refused = refusedAt.get(key);
  if (refused !== undefined) {
    refusedAt.delete(key);
    if (Date.now() - refused < retryAfterMs) console.log('early');
  }
  const batch = String(request.headers['x-ms-cosmos-is-batch-request']).toLowerCase() === 'true';
  if (request.url.includes('/docs') && ++seen[batch ? 'batch' : 'single'] % every === 0) {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      refusedAt.set(key, Date.now());
      if (batch) {
        console.log('throttled batch');
        const operations = JSON.parse(Buffer.concat(chunks).toString());
        response.writeHead(207, { 'content-type': 'application/json' });
        response.end(JSON.stringify(operations.map((_, index) => (index === 0
          ? { statusCode: 429, subStatusCode: 3200, retryAfterMilliseconds: retryAfterMs, requestCharge: 0 }
          : { statusCode: 424, requestCharge: 0 }))));
        return;
      }
      console.log('throttled');
      response.writeHead(429, {
        'content-type': 'application/json',
        'x-ms-retry-after-ms': String(retryAfterMs),
      });
      response.end(JSON.stringify({ code: 'TooManyRequests', message: 'Request rate is large' }));
    });
    return;
  }
  const forwarded = http.request(
    { host: '127.0.0.1', port: target, method: request.method, path: request.url, headers: request.headers },
    (answer) => {
      response.writeHead(answer.statusCode, answer.headers);
      answer.pipe(response);
    });
  forwarded.on('error', () => {
    response.writeHead(502);
    response.end();
  });
  request.pipe(forwarded);
});
server.listen(port, '127.0.0.1', () => console.log('listening'));
