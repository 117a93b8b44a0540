-- POST /book with a distinct free slot per request (bench/service.py writes the data file).
-- Data file: one line per booking: the Cookie header, a tab, then the whole form body. Each
-- line is a session of its own: a form's start value books once (leadform.booking.guard).
-- Thread k of n takes lines k, k+n, k+2n... so no two requests ask for the same time.

dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local bookings = {}
local next_index = 1
exhausted = 0

function init(args)
   local index, thread_count = 0, tonumber(args[2])
   for line in io.lines(args[1]) do
      if index % thread_count == id then
         local tab = line:find("\t", 1, true)
         table.insert(bookings, { line:sub(1, tab - 1), line:sub(tab + 1) })
      end
      index = index + 1
   end
end

function request()
   local booking = bookings[next_index]
   if booking == nil then
      -- Out of bookings: repeat the last one and say so in the report (the run is invalid).
      exhausted = exhausted + 1
      booking = bookings[#bookings]
   else
      next_index = next_index + 1
   end
   local headers = {
      ["Cookie"] = booking[1],
      ["Content-Type"] = "application/x-www-form-urlencoded",
   }
   return wrk.format("POST", "/book", headers, booking[2])
end
