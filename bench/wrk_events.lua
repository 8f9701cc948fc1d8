-- Replays pre-signed Telnyx call.initiated events, each thread its own share.
-- WRK_EVENTS: file of "signature<TAB>timestamp<TAB>body" lines; WRK_PATH: URL path;
-- WRK_PHASE: sent as x-bench-phase ("warm" requests are not timed by the server).
-- With WRK_HEADER set ("Name: value"), each line is a JSON body instead, sent with
-- that header (a chat widget's X-Widget-Key, an API token's Authorization).
local threads_made = 0

function setup(thread)
  thread:set("id", threads_made)
  threads_made = threads_made + 1
end

local requests = {}
local position = 0

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  local path = os.getenv("WRK_PATH")
  local phase = os.getenv("WRK_PHASE") or "measure"
  local header = os.getenv("WRK_HEADER")
  local name, value
  if header then name, value = header:match("^([^:]+):%s*(.*)$") end
  local index = 0
  for line in io.lines(os.getenv("WRK_EVENTS")) do
    if index % nthreads == id and name then
      requests[#requests + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        [name] = value,
        ["x-bench-phase"] = phase,
      }, line)
    elseif index % nthreads == id then
      local sig, ts, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["telnyx-signature-ed25519"] = sig,
        ["telnyx-timestamp"] = ts,
        ["x-bench-phase"] = phase,
      }, body)
    end
    index = index + 1
  end
end

function request()
  position = position % #requests + 1
  return requests[position]
end
