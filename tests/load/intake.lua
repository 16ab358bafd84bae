-- wrk: takes calls in over the (category, village) pairs listed in $PAIRS (one "category region"
-- a line), as $TOKEN (an operator).
local pairs_ = {}
for line in io.lines(os.getenv("PAIRS")) do
  local c, r = line:match("(%S+) (%S+)")
  pairs_[#pairs_ + 1] = {c, r}
end
-- each thread its own numbers, apart in the pairs and the texts (wrk's threads share no
-- state: started alike, both would post the same call to the same village at the same moment)
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local i = 0
function init()
  i = tid * 1000003
end
function request()
  i = i + 1
  local p = pairs_[(i % #pairs_) + 1]
  local body = '{"category_id":"' .. p[1] .. '","region_id":"' .. p[2] ..
    '","kind":"help","title":"小区停水第' .. i .. '天","description":"幸福小区3号楼从周一起停水，至今没有恢复，请尽快处理。",' ..
    '"citizen":{"name":"张三","phone":"13812345678"}}'
  return wrk.format("POST", "/api/v1/tickets",
    {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"}, body)
end
