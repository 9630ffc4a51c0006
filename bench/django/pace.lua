-- wrk script: every connection waits DELAY ms (the first argument after --) before each
-- request, so wrk offers a paced load below the sites' capacity instead of saturating them.
-- Used by bench/django/stampede.py --wrk --delay-ms N.
local ms = 0

function init(args)
  ms = tonumber(args[1] or "0")
end

function delay()
  return ms
end
