-- Lua: whether player id `a` sorts before `b` by bytes (as Redis orders equal scores),
-- never by the server's locale. Shared by the scripts that apply the tie rule.
local function less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
