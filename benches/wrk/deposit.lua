-- wrk script for the relay load benchmark (benches/relay.sh): deposits envelopes of
-- ENVELOPE_BYTES (default 256) to the send ids listed, in hex one per line, in the file
-- named by SEND_IDS (written by `relay-load --send-ids-out`).
-- Requests are formatted once in init(), so wrk's per-request cost stays minimal.
local requests = {}
local next_index = 0

local function random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

local function from_hex(hex)
  return (hex:gsub("..", function(byte) return string.char(tonumber(byte, 16)) end))
end

init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  local size = tonumber(os.getenv("ENVELOPE_BYTES") or "256")
  local ids = {}
  for line in io.lines(os.getenv("SEND_IDS")) do
    if #line == 32 then ids[#ids + 1] = from_hex(line) end
  end
  local headers = {["Content-Type"] = "application/octet-stream"}
  for i, id in ipairs(ids) do
    local envelope = string.char(1) .. id .. random_bytes(size - 17)
    requests[i] = wrk.format("POST", "/v1/envelopes", headers, envelope)
  end
  -- Each wrk thread starts at a different place in the list.
  next_index = math.random(0, #requests - 1)
end

request = function()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

