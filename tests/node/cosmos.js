// Reads Cosmos DB containers for the tests with Microsoft's own SDK, so that what sluice wrote
// is what real Azure clients see.
//
//   node cosmos.js read ENDPOINT KEY DATABASE CONTAINER   every document, a JSON array, without
//                                                         the service's own properties
//   node cosmos.js upsert ENDPOINT KEY DATABASE CONTAINER < DOCUMENT
'use strict';
const { CosmosClient } = require('@azure/cosmos');

async function main() {
  const [command, endpoint, key, database, container] = process.argv.slice(2);
  const client = new CosmosClient({ endpoint, key });
  if (command === 'upsert') {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    await client.database(database).container(container).items.upsert(JSON.parse(Buffer.concat(chunks)));
    return;
  }
  if (command !== 'read') throw new Error(`unknown command ${command}`);
  const { resources } = await client.database(database).container(container).items.readAll().fetchAll();
  const own = new Set(['_rid', '_self', '_etag', '_attachments', '_ts']);
  console.log(JSON.stringify(resources.map((document) =>
    Object.fromEntries(Object.entries(document).filter(([name]) => !own.has(name))))));
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
