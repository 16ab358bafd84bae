-- wrk: takes $ACTION (dispatch, sign, ...) with body $BODY on each ticket id listed in $IDS, as
-- $TOKEN; the threads share the list out (run with -t2). Past the end of the list it wraps
-- round (those answer 409): give it more ids than the run can use.
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
local counter = 0
tid = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local i = 0
function request()
  local n = tid + 1 + i * 2
  i = i + 1
  if n > #ids then n = ((n - 1) % #ids) + 1 end
  return wrk.format("POST", "/api/v1/tickets/" .. ids[n] .. "/" .. os.getenv("ACTION"),
    {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"},
    os.getenv("BODY"))
end
