// AWS SDK for JavaScript v3 peer of ddbload's pump benchmark: the same synthetic items as
// `ddbload bench`, written with DynamoDBDocumentClient + BatchWriteCommand by --concurrency
// workers (default 16), each resending the UnprocessedItems it gets back (with new items to fill
// the batch to 25) after a full-jitter exponential backoff, as the BatchWriteItem documentation
// recommends. The client keeps the SDK's defaults (standard retry mode: for DynamoDB 4 attempts,
// throttling errors backed off rand * min(1 s * 2^n, 20 s), a 500-token retry quota). A batch the
// SDK gives up on (throttling after its retries) goes back to the worker's queue after a backoff.
// Prints one JSON line on stdout.
//
// Usage: node peer_js.mjs --table T --items N --item-size B [--concurrency C] [--time-limit S]
//                         [--backoff-cap-ms MS]
// Endpoint and credentials come from the environment (AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, ...).
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, BatchWriteCommand } from "@aws-sdk/lib-dynamodb";

const require = createRequire(import.meta.url);

function args() {
  const a = { concurrency: 16, timeLimit: 0, backoffCapMs: 5000 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i], x = v[++i];
    if (k === "--table") a.table = x;
    else if (k === "--items") a.items = Number(x);
    else if (k === "--item-size") a.itemSize = Number(x);
    else if (k === "--concurrency") a.concurrency = Number(x);
    else if (k === "--time-limit") a.timeLimit = Number(x);
    else if (k === "--backoff-cap-ms") a.backoffCapMs = Number(x);
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.table || !a.items || !a.itemSize) throw new Error("--table, --items and --item-size are required");
  return a;
}

const THROTTLES = new Set(["ProvisionedThroughputExceededException", "ThrottlingException",
  "RequestLimitExceeded"]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const a = args();
  // full jitter: rand * min(cap, 50 ms * 2^attempt)
  const backoff = (attempt) => Math.random() * Math.min(a.backoffCapMs, 50 * 2 ** attempt);
  // Same sizing rule as ddbload bench: base = len("pk") + len(key of item 0) + len("data").
  const prefix = `ddbload-bench-${randomBytes(4).toString("hex")}-`;
  const filler = Math.max(a.itemSize - (2 + (prefix + "0").length + 4), 0);
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let src = "";
  let x = 7;
  for (let i = 0; i < 65536 + filler; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    src += alphabet[(x >>> 16) % 36];
  }
  const makeItem = (n) => {
    const o = (n * 7919) % 65536;
    return { pk: prefix + n, data: src.slice(o, o + filler) };
  };

  const client = new DynamoDBClient({}); // endpoint, region, credentials from the environment
  const doc = DynamoDBDocumentClient.from(client);
  const t0 = performance.now();
  const deadline = a.timeLimit > 0 ? t0 + a.timeLimit * 1000 : Infinity;
  let next = 0, requests = 0, resent = 0, sdkGaveUp = 0, limited = false;

  async function worker() {
    let pending = [];
    let attempt = 0;
    for (;;) {
      if (performance.now() >= deadline && next < a.items) limited = true;
      while (pending.length < 25 && next < a.items && !limited) pending.push(makeItem(next++));
      if (!pending.length) return;
      const batch = pending.splice(0, 25);
      requests++;
      try {
        const res = await doc.send(new BatchWriteCommand({
          RequestItems: { [a.table]: batch.map((Item) => ({ PutRequest: { Item } })) },
        }));
        const un = res.UnprocessedItems?.[a.table] ?? [];
        if (un.length) {
          resent += un.length;
          pending = un.map((r) => r.PutRequest.Item).concat(pending);
          await sleep(backoff(attempt++));
        } else {
          attempt = 0;
        }
      } catch (e) {
        if (!THROTTLES.has(e.name)) throw e;
        sdkGaveUp++;
        resent += batch.length;
        pending = batch.concat(pending);
        await sleep(backoff(attempt++));
      }
    }
  }

  await Promise.all(Array.from({ length: a.concurrency }, worker));
  const dt = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({
    peer: "aws-sdk-js-v3",
    sdk: require("@aws-sdk/client-dynamodb/package.json").version,
    lib: require("@aws-sdk/lib-dynamodb/package.json").version,
    node: process.version,
    concurrency: a.concurrency,
    backoff_cap_ms: a.backoffCapMs,
    items: a.items,
    submitted: next,
    time_limited: limited,
    seconds: Number(dt.toFixed(3)),
    items_per_s: Number((next / dt).toFixed(1)),
    requests,
    items_resent: resent,
    sdk_gave_up: sdkGaveUp,
  }));
  client.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
