-- wrk script: every request carries the next token of TOKENS_FILE (one token per line),
-- each thread starting at its own offset, so a run of N requests uses N different tokens
-- (up to the file's length). BENCH_METHOD and BENCH_PATH name the request (GET /pets/7 unless
-- set).
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/pets/7"
local next_thread = 0

function setup(thread)
  thread:set("offset", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  i = (offset or 0) * math.floor(#tokens / 8)
end

function request()
  i = i + 1
  if i > #tokens then
    i = 1
  end
  return wrk.format(method, path, { ["Authorization"] = "Bearer " .. tokens[i] })
end
