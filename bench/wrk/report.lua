-- Shared by every bench/service.py wrk run: count responses per status code in each
-- thread and print one machine-readable line at the end, so Python never parses wrk's
-- human-oriented text. Loaded as the script for plain GETs, and by book_post.lua.

local threads = {}

-- Each thread has its own Lua state, so this table is per thread; done() adds them up.
statuses = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

local function json_object(values)
   local parts = {}
   for key, value in pairs(values) do
      table.insert(parts, string.format('"%s": %s', tostring(key), tostring(value)))
   end
   return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
   local by_status = {}
   local exhausted = 0
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         by_status[status] = (by_status[status] or 0) + count
      end
      exhausted = exhausted + (thread:get("exhausted") or 0)
   end
   local errors = summary.errors
   local report = {
      requests = summary.requests,
      duration_us = summary.duration,
      socket_errors = errors.connect + errors.read + errors.write + errors.timeout,
      p50_us = latency:percentile(50),
      p90_us = latency:percentile(90),
      p99_us = latency:percentile(99),
      max_us = latency.max,
      mean_us = latency.mean,
      exhausted = exhausted,
      statuses = json_object(by_status),
   }
   io.write("BENCH_JSON " .. json_object(report) .. "\n")
end
