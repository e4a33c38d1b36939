-- wrk script: BatchWriteItem load against ddbsim with unique keys per request.
--   wrk -t1 -c64 -d10s -s tools/ddbsim/bench.lua http://127.0.0.1:PORT/
-- Environment: DDBSIM_TABLE (Bench), DDBSIM_ITEMS (25 per batch), DDBSIM_PAD (100 bytes of padding).
local table_name = os.getenv("DDBSIM_TABLE") or "Bench"
local per_batch = tonumber(os.getenv("DDBSIM_ITEMS") or "25")
local pad = string.rep("x", tonumber(os.getenv("DDBSIM_PAD") or "100"))
local counter = 0
local thread_id = 0
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.BatchWriteItem"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"

function request()
  local parts = {}
  for i = 1, per_batch do
    counter = counter + 1
    parts[i] = string.format('{"PutRequest":{"Item":{"pk":{"S":"t%d-%d"},"n":{"N":"%d"},"d":{"S":"%s"}}}}',
      thread_id, counter, counter, pad)
  end
  local body = '{"RequestItems":{"' .. table_name .. '":[' .. table.concat(parts, ",") .. ']}}'
  return wrk.format(nil, "/", nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("status " .. status .. ": " .. body:sub(1, 200) .. "\n")
  end
end
