#!/bin/sh
# The platform's background work (the compose service "scheduler"), each part
# restarted should it exit:
# - interop outbox delivery, continuously (manage.py interop deliver --loop);
# - the daily jobs (manage.py schedule --loop: closing publicity, expiring
#   unconsented transfers and stale check-ins; central/schedule.py). Each job
#   runs once a day however many schedulers share the database.
# Both survive a database restart by themselves.
set -u
deliver=""
jobs=""
start_delivery() {
  python manage.py interop deliver --loop --interval "${DELIVER_INTERVAL:-5}" &
  deliver=$!
}
start_jobs() {
  python manage.py schedule --loop --interval "${SCHEDULE_INTERVAL:-60}" &
  jobs=$!
}
trap 'kill -TERM "$deliver" "$jobs" 2>/dev/null; wait; exit 0' TERM INT
start_delivery
start_jobs
while :; do
  kill -0 "$deliver" 2>/dev/null || { echo "scheduler: delivery worker exited; restarting" >&2; start_delivery; }
  kill -0 "$jobs" 2>/dev/null || { echo "scheduler: daily jobs exited; restarting" >&2; start_jobs; }
  sleep 5 &
  wait $!
done
