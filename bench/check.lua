-- wrk script of bench/run.sh: sends one fixed request and checks every response.
--
-- Env: BENCH_METHOD (GET), BENCH_PATH, BENCH_COOKIE, BENCH_BODY (form body for POST),
-- BENCH_STATUS (expected status, 200), BENCH_EXPECT (a substring every body must contain),
-- BENCH_FORBID (a substring no body may contain). At the end prints one line:
-- RESULT requests=… seconds=… p50_us=… p99_us=… ok=… bad=… errors=…

local getenv = os.getenv
wrk.method = getenv("BENCH_METHOD") or "GET"
wrk.path = getenv("BENCH_PATH") or "/"
local cookie = getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then wrk.headers["Cookie"] = cookie end
local body = getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["X-Auth-Return-Redirect"] = "1"
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, bad = 0, 0
  want_status = tonumber(getenv("BENCH_STATUS") or "200")
  expect = getenv("BENCH_EXPECT") or ""
  forbid = getenv("BENCH_FORBID") or ""
end

function response(status, headers, body)
  if status == want_status
    and string.find(body, expect, 1, true)
    and (forbid == "" or not string.find(body, forbid, 1, true)) then
    ok = ok + 1
  else
    bad = bad + 1
    if bad == 1 then
      io.stderr:write("unexpected response: " .. status .. " " .. string.sub(body, 1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    b = b + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d ok=%d bad=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    o, b, e.connect + e.read + e.write + e.timeout + e.status))
end
