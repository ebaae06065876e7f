-- wrk script for bench/screening.py: an open-loop load of POST /api/v1/screenings.
--
--   wrk -tN -c100 -d65s -s bench/screening.lua URL -- TARGETS OUT RATE COUNT START TAG TOKEN N
--
-- TARGETS: a file of "chain kind value" lines (kind: address or tx). Every thread sends its
-- share of COUNT requests on a fixed schedule, RATE requests per second in all, from the
-- wall-clock time START (seconds since the epoch, shared by the threads): request k is due
-- at START + k / RATE whatever became of the earlier ones (no coordinated omission: a
-- request that finds no idle connection goes out as soon as one frees, and its latency is
-- still counted from the time it was due). Each request is a deposit or a withdrawal of a
-- random target with a random amount and its own Idempotency-Key; the answer names the key
-- back, which pairs it with its due time. OUT.<thread> gets one line per answer:
-- "<status> <milliseconds from due time to answer>".

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } cs_timespec;
int clock_gettime(int clock, cs_timespec *ts);
]])
local ts = ffi.new("cs_timespec")
local function now()
  ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME: the same clock as the caller's START
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local counter = 0

function setup(thread)
  thread:set("tid", counter) -- before the thread starts (wrk starts each after its setup)
  counter = counter + 1
end

local targets, out, rate, count, start, tag, auth
-- due times of the requests whose delay has run, first in first out: queue[qhead..qtail]
local sent, scheduled, queue, qhead, qtail, due = 0, 0, {}, 1, 0, {}

function init(args)
  local lines = {}
  for line in io.lines(args[1]) do
    local chain, kind, value = line:match("^(%S+) (%S+) (%S+)$")
    if chain then
      table.insert(lines, { chain, kind, value })
    end
  end
  targets = lines
  out = assert(io.open(args[2] .. "." .. tid, "w"))
  out:setvbuf("line")
  rate = tonumber(args[3])
  count = tonumber(args[4])
  start = tonumber(args[5])
  tag = args[6]
  auth = "Bearer " .. args[7]
  nthreads = tonumber(args[8])
  math.randomseed(1000 + tid)
end

-- the k-th request of this thread (k = 0, 1, ...) is the (k * nthreads + tid)-th in all
local function due_at(k)
  return start + (k * nthreads + tid) / rate
end

function delay()
  local k = scheduled
  if k * nthreads + tid >= count then
    return 3600 * 1000 -- this thread's share is sent: the connection stays idle
  end
  scheduled = k + 1
  local at = due_at(k)
  qtail = qtail + 1
  queue[qtail] = at
  local wait = (at - now()) * 1000
  if wait <= 0 then
    return 0
  end
  return math.ceil(wait)
end

function request()
  local key = tag .. "-" .. tid .. "-" .. sent
  sent = sent + 1
  if qhead <= qtail then
    due[key] = queue[qhead]
    queue[qhead] = nil
    qhead = qhead + 1
  end -- else wrk's own trial call before the run (or a resend after a reconnect): not timed
  local t = targets[math.random(#targets)]
  local direction = (math.random() < 0.5) and "deposit" or "withdrawal"
  local field = (t[2] == "tx") and "tx_hash" or "address"
  local body = string.format(
    '{"chain":"%s","direction":"%s","%s":"%s","amount":%d}',
    t[1], direction, field, t[3], math.random(10000, 50000000)
  )
  return wrk.format("POST", "/api/v1/screenings", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = auth,
    ["Idempotency-Key"] = key,
  }, body)
end

function response(status, headers, body)
  local key = body:match('"idempotency_key":"([^"]*)"')
  local at = key and due[key]
  if at then
    due[key] = nil
    out:write(string.format("%d %.3f\n", status, (now() - at) * 1000))
  else
    out:write(string.format("%d -1 %s\n", status, body:sub(1, 200):gsub("[\r\n]", " ")))
  end
end
