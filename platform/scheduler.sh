#!/bin/sh
# The platform's scheduled jobs (the compose service "scheduler"):
# - interop outbox delivery, continuously (manage.py interop deliver --loop;
#   it survives a database restart by itself), restarted should it exit;
# - records whose publicity ended move on (manage.py close_publicity), every
#   hour: it is idempotent, so the hour it runs at does not matter.
# Transfers whose consent expired are expired when next touched; no job is needed.
set -u
deliver=""
start_delivery() {
  python manage.py interop deliver --loop --interval "${DELIVER_INTERVAL:-5}" &
  deliver=$!
}
trap 'kill -TERM "$deliver" 2>/dev/null; wait "$deliver"; exit 0' TERM INT
start_delivery
while :; do
  kill -0 "$deliver" 2>/dev/null || { echo "scheduler: delivery worker exited; restarting" >&2; start_delivery; }
  python manage.py close_publicity || echo "scheduler: close_publicity failed; next try in an hour" >&2
  sleep "${CLOSE_PUBLICITY_EVERY:-3600}" &
  wait $!
done
