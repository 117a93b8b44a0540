-- POST /book with a distinct free slot per request (bench/service.py writes the data file).
-- Data file: line 1 the Cookie header, line 2 the form body with {slot} in place of the
-- slot value, then one slot value per line. Thread k of n takes slots k, k+n, k+2n... so no
-- two requests ask for the same time; a refused booking would re-render the whole form.

dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local cookie, body_template
local slots = {}
local next_index = 1
exhausted = 0

function init(args)
   local lines = {}
   for line in io.lines(args[1]) do
      table.insert(lines, line)
   end
   cookie, body_template = lines[1], lines[2]
   local thread_count = tonumber(args[2])
   for index = 3 + id, #lines, thread_count do
      table.insert(slots, lines[index])
   end
end

function request()
   local slot = slots[next_index]
   if slot == nil then
      -- Out of slots: repeat the last one and say so in the report (the run is then invalid).
      exhausted = exhausted + 1
      slot = slots[#slots]
   else
      next_index = next_index + 1
   end
   local headers = {
      ["Cookie"] = cookie,
      ["Content-Type"] = "application/x-www-form-urlencoded",
   }
   local body = body_template:gsub("{slot}", (slot:gsub("%%", "%%%%")))
   return wrk.format("POST", "/book", headers, body)
end
