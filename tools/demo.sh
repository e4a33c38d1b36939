#!/usr/bin/env bash
# The demo backfill: set up, build, start a local S3 (s3rver) and DynamoDB (dynalite) on
# loopback, upload a small sample archive, load it with `ddbload run`, and show what landed
# as read back by an independent client (the aws CLI). Stops the services at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

state="$root/.services/demo"
tools/services.sh start "$state"
trap '"$root/tools/services.sh" stop "$state"' EXIT
# shellcheck disable=SC1091
. "$state/env"
export AWS_ENDPOINT_URL_S3=$DDBLOAD_TEST_S3_ENDPOINT AWS_ENDPOINT_URL_DYNAMODB=$DDBLOAD_TEST_DYNAMODB_ENDPOINT
s3() { aws --endpoint-url "$DDBLOAD_TEST_S3_ENDPOINT" s3 "$@"; }
ddb() { aws --endpoint-url "$DDBLOAD_TEST_DYNAMODB_ENDPOINT" dynamodb "$@"; }

work=$(mktemp -d)
trap '"$root/tools/services.sh" stop "$state"; rm -rf "$work"' EXIT
python3 tools/make_sample_archive.py "$work/archive"
echo "== the archive (s3://demo-archive/)"
s3 mb s3://demo-archive >/dev/null
s3 cp --recursive --quiet "$work/archive" s3://demo-archive/
s3 ls --recursive s3://demo-archive/ | awk '
    /events\// { n++; bytes += $3; next }
    { printf "   %8s  %s\n", $3, $4 }
    END { printf "   %8s  events/2024/01/02/event-*.json (%d JSON user-event objects)\n", bytes, n }'

echo "== tables"
ddb create-table --table-name Customers --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=uuid,AttributeType=S --key-schema AttributeName=uuid,KeyType=HASH >/dev/null
ddb create-table --table-name UserEvents --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=userID,AttributeType=S AttributeName=ts,AttributeType=N \
    --key-schema AttributeName=userID,KeyType=HASH AttributeName=ts,KeyType=RANGE >/dev/null
echo "   Customers (uuid S), UserEvents (userID S, ts N)"

cd "$work"
echo "== ddbload run s3://demo-archive/customers/ --table Customers"
"$root/build/ddbload" run s3://demo-archive/customers/ --table Customers
echo "== ddbload run s3://demo-archive/events/ --table UserEvents"
"$root/build/ddbload" run s3://demo-archive/events/ --table UserEvents

echo "== what landed (read back with the aws CLI)"
for t in Customers UserEvents; do
    printf '   %-11s %s items\n' "$t" "$(ddb scan --table-name "$t" --select COUNT --query Count --output text)"
done
echo "   three Customers items:"
ddb scan --table-name Customers --max-items 3 --output json |
    python3 -c 'import json,sys; [print("     " + json.dumps(i, ensure_ascii=False)) for i in json.load(sys.stdin)["Items"]]'
echo "   one UserEvents item:"
ddb scan --table-name UserEvents --max-items 1 --output json |
    python3 -c 'import json,sys; [print("     " + json.dumps(i, ensure_ascii=False)) for i in json.load(sys.stdin)["Items"]]'
