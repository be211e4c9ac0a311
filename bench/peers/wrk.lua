-- wrk script of bench/run.sh inference: the method and the body from the environment
-- (WRK_METHOD, default POST; WRK_BODY_FILE, a JSON body), and at the end one line the bench
-- parses: "RESULT requests=N seconds=S p50_us=X p99_us=Y errors=E" (errors: connect, read, write,
-- timeouts and non-2xx/3xx answers).
wrk.method = os.getenv("WRK_METHOD") or "POST"
local file = os.getenv("WRK_BODY_FILE")
if file and file ~= "" then
  local f = assert(io.open(file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d seconds=%.6f p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
