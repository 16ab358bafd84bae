-- wrk: takes calls in over the (category, village) pairs listed in $PAIRS (one "category region"
-- a line), as $TOKEN (an operator). With KINDS=8 the calls speak of the eight kinds of requests
-- `hotline load`'s fill and intakes cycle through (src/bench/stats.rs, TEXTS); else all of 停水.
local pairs_ = {}
for line in io.lines(os.getenv("PAIRS")) do
  local c, r = line:match("(%S+) (%S+)")
  pairs_[#pairs_ + 1] = {c, r}
end
local texts = {{"小区停水第%d天", "幸福小区3号楼从周一起停水，至今没有恢复，请尽快处理。"}}
if os.getenv("KINDS") == "8" then
  texts = {
    {"小区停水第%d号楼", "幸福小区3号楼从周一起停水，至今没有恢复，请尽快处理。"},
    {"夜间施工噪音扰民%d号", "工地每晚十点后仍在施工，噪音很大，影响休息。"},
    {"物业费上涨%d次", "物业公司未经业主同意上涨物业费，要求说明依据。"},
    {"路灯不亮%d盏", "人民路路灯已坏一周，夜间行人不便，存在安全隐患。"},
    {"拖欠工资%d人", "工资拖欠三个月，老板失联，请劳动监察介入。"},
    {"垃圾清运不及时%d处", "小区垃圾桶满溢多日无人清运，气味难闻。"},
    {"燃气味道%d户", "楼道里有燃气味道，担心泄漏，请燃气公司检查。"},
    {"违章建筑%d处", "邻居在楼顶私搭乱建，影响采光和安全。"},
  }
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
  local t = texts[(math.floor(i / #pairs_) % #texts) + 1]
  local body = '{"category_id":"' .. p[1] .. '","region_id":"' .. p[2] ..
    '","kind":"help","title":"' .. string.format(t[1], i) .. '","description":"' .. t[2] .. '",' ..
    '"citizen":{"name":"张三","phone":"13812345678"}}'
  return wrk.format("POST", "/api/v1/tickets",
    {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"}, body)
end
