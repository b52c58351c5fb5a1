#!/bin/sh
# One-shot: waits for the Temporal cluster, creates Tessera's namespace and registers its
# custom search attributes (run by the temporal-create-namespace service in
# docker-compose.yml, image temporalio/admin-tools, which ships the `temporal` CLI).
# Idempotent: existing namespace and attributes are left as they are, so it runs on every
# `docker compose up`.
#
# Environment:
#   TEMPORAL_ADDRESS             frontend host:port             (default: temporal:7233)
#   TESSERA_NAMESPACE            namespace to create            (default: tessera)
#   TESSERA_NAMESPACE_RETENTION  closed-workflow retention      (default: 168h)
#
# Search attributes are stored unencrypted and bypass the payload codec: values must be
# ids and labels, never emails, names or other PII. With SQL visibility each namespace has
# at most 10 Keyword, 3 Datetime and 3 Bool custom attributes; this set uses 9 / 2 / 1.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TESSERA_NAMESPACE:-tessera}"
RETENTION="${TESSERA_NAMESPACE_RETENTION:-168h}"

# name:type pairs (types as the temporal CLI spells them). Same list as
# contracts/search-attributes.ts; test/deploy-config.test.ts fails if they drift.
SEARCH_ATTRIBUTES="
TesseraTenant:Keyword
TesseraSourceType:Keyword
TesseraSourceInstance:Keyword
TesseraEntityType:Keyword
TesseraEntityId:Keyword
TesseraJobKind:Keyword
TesseraTrigger:Keyword
TesseraSegmentId:Keyword
TesseraDestinationId:Keyword
TesseraWindowStart:Datetime
TesseraWindowEnd:Datetime
TesseraIsBackfill:Bool
"

HOST="${ADDRESS%:*}"
PORT="${ADDRESS##*:}"

# Like Temporal's own compose scripts, dial the frontend by its IPv4 address: the CLI's
# resolver may otherwise pick an address the server does not listen on.
IP="$(getent hosts "$HOST" 2>/dev/null | awk '$1 ~ /^[0-9.]+$/ { print $1; exit }' || true)"
if [ -n "$IP" ]; then
  ADDRESS="$IP:$PORT"
fi

t() {
  temporal --address "$ADDRESS" "$@"
}

echo "create-namespace: waiting for the Temporal cluster at $ADDRESS"
attempt=0
until t operator cluster health >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 90 ]; then
    echo "create-namespace: cluster not healthy after $attempt attempts" >&2
    t operator cluster health || true
    exit 1
  fi
  sleep 2
done
echo "create-namespace: cluster is SERVING"

if t operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "create-namespace: namespace '$NAMESPACE' already exists"
else
  echo "create-namespace: creating namespace '$NAMESPACE' (retention $RETENTION)"
  if ! t operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"; then
    # Lost a race with a concurrent run, or the create really failed: describe decides.
    sleep 2
    t operator namespace describe --namespace "$NAMESPACE" >/dev/null
  fi
fi

# A namespace created a moment ago may take a few seconds to reach every frontend cache.
attempt=0
until t operator search-attribute list --namespace "$NAMESPACE" >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 30 ]; then
    echo "create-namespace: cannot list search attributes of '$NAMESPACE'" >&2
    t operator search-attribute list --namespace "$NAMESPACE" || true
    exit 1
  fi
  sleep 2
done

# Prints the line of the list output that names attribute $1 (empty when it is absent).
existing_line() {
  t operator search-attribute list --namespace "$NAMESPACE" | awk -v n="$1" '{ for (i = 1; i <= NF; i++) if ($i == n) { print; exit } }'
}

for pair in $SEARCH_ATTRIBUTES; do
  name="${pair%%:*}"
  type="${pair#*:}"
  line="$(existing_line "$name")"
  if [ -z "$line" ]; then
    echo "create-namespace: adding search attribute $name ($type)"
    attempt=0
    until t operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$type"; do
      attempt=$((attempt + 1))
      line="$(existing_line "$name")"
      if [ -n "$line" ]; then
        break
      fi
      if [ "$attempt" -ge 10 ]; then
        echo "create-namespace: could not add search attribute $name" >&2
        exit 1
      fi
      sleep 3
    done
  else
    # The CLI prints the type as e.g. "Keyword" (table) or "INDEXED_VALUE_TYPE_KEYWORD";
    # both contain the type name. A mismatch means someone registered it by hand.
    if ! printf '%s\n' "$line" | grep -qi "$type"; then
      echo "create-namespace: WARNING search attribute $name exists with another type: $line" >&2
    else
      echo "create-namespace: search attribute $name already exists"
    fi
  fi
done

echo "create-namespace: namespace '$NAMESPACE' and its search attributes are ready"
