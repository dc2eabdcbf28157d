// A producer and reader of Azure Storage queues for the tests, with Microsoft's own SDK, so that
// what sluice reads is what real Azure clients send.
//
//   node azure_queue.js send CONNECTION QUEUE [base64|none] < BODIES   one message per input line
//   node azure_queue.js drain CONNECTION QUEUE                         every message, received and
//                                                                      deleted: a JSON array of
//                                                                      {"text", "dequeueCount"}
//   node azure_queue.js count CONNECTION QUEUE                         approximate message count
//   node azure_queue.js hide CONNECTION QUEUE                          receives every message for
//                                                                      a second (its dequeue count
//                                                                      goes up), deletes none
'use strict';
const { QueueServiceClient } = require('@azure/storage-queue');

async function readLines() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').split('\n').filter((line) => line.length > 0);
}

async function main() {
  const [command, connection, name, encoding = 'base64'] = process.argv.slice(2);
  const queue = QueueServiceClient.fromConnectionString(connection).getQueueClient(name);
  if (command === 'send') {
    await queue.createIfNotExists();
    const lines = await readLines();
    // A few at a time, as a busy producer would.
    for (let i = 0; i < lines.length; i += 16) {
      await Promise.all(lines.slice(i, i + 16).map((line) =>
        queue.sendMessage(encoding === 'base64' ? Buffer.from(line, 'utf8').toString('base64') : line)));
    }
    console.log(lines.length);
  } else if (command === 'drain') {
    const messages = [];
    if (await queue.exists()) {
      for (;;) {
        const batch = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 60 });
        if (batch.receivedMessageItems.length === 0) break;
        for (const item of batch.receivedMessageItems) {
          messages.push({ text: item.messageText, dequeueCount: item.dequeueCount });
          await queue.deleteMessage(item.messageId, item.popReceipt);
        }
      }
    }
    console.log(JSON.stringify(messages));
  } else if (command === 'hide') {
    const batch = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 1 });
    console.log(batch.receivedMessageItems.length);
  } else if (command === 'count') {
    const exists = await queue.exists();
    console.log(exists ? (await queue.getProperties()).approximateMessagesCount : 0);
  } else {
    throw new Error(`unknown command ${command}`);
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
