-- wrk script for bench/run.sh: one scenario per wrk run, named by the first
-- argument after `--`:
--   wrk … -s bench/scenarios.lua URL -- SCENARIO USERS_FILE BIG_FILE WORD
-- USERS_FILE has a line per ordinary user, "TOKEN ID ID …" (the ids of that
-- user's own seeded tasks); BIG_FILE holds the token of the user with many
-- tasks. Each request goes out as a random user, on that user's own tasks.
-- done() prints one JSON line with the run's figures for bench/report.py.
-- The pb-* scenarios send the same requests to PocketBase (bench/run.sh
-- --sqlite runs it beside the service; bench/pocketbase.mjs seeds it): their
-- USERS_FILE has a line per user, "TOKEN USER-ID ID …" (PocketBase's record
-- ids), and BIG_FILE is not read.
-- A fifth argument, "statuses", also counts the failed responses by status and
-- keeps one body of each (a response hook costs the client time, so the
-- measured runs go without it; bench/run.sh reruns a failing scenario so).

local scenario, word, big
local users = {}
local sequence = 0
local threads = {}

function setup(thread)
    -- Distinct random streams per thread (init runs in each thread's own state).
    thread:set("seed", math.random(1, 2 ^ 30))
    threads[#threads + 1] = thread
end

function init(args)
    scenario, word = args[1], args[4]
    local pocketbase = scenario:sub(1, 3) == "pb-"
    for line in io.lines(args[2]) do
        local fields = {}
        for field in line:gmatch("%S+") do fields[#fields + 1] = field end
        local ids = {}
        if pocketbase then
            -- PocketBase takes the raw token, and a create names its owner.
            for i = 3, #fields do ids[#ids + 1] = fields[i] end
            users[#users + 1] = { auth = fields[1], id = fields[2], ids = ids }
        else
            for i = 2, #fields do ids[#ids + 1] = fields[i] end
            users[#users + 1] = { auth = "Bearer " .. fields[1], ids = ids }
        end
    end
    if not pocketbase then
        for line in io.lines(args[3]) do big = "Bearer " .. line end
    end
    math.randomseed(seed + os.time())
    if args[5] == "statuses" then
        -- Flat tables of strings and numbers: what thread:get can copy.
        failed, example = {}, {}
        response = function(status, _, body)
            if status >= 400 then
                local key = tostring(status)
                failed[key] = (failed[key] or 0) + 1
                example[key] = example[key] or body:gsub("%s+", " "):sub(1, 300)
            end
        end
    end
end

local function headers(auth, with_body)
    local h = { ["Authorization"] = auth }
    if with_body then h["Content-Type"] = "application/json" end
    return h
end

local function anyone() return users[math.random(#users)] end
local function own_task(user) return user.ids[math.random(#user.ids)] end

local function unique_title(verb)
    sequence = sequence + 1
    return string.format('"%s under load %d-%d"', verb, seed, sequence)
end

local make = {}
make["list"] = function()
    return wrk.format("GET", "/api/tasks?limit=50", headers(anyone().auth))
end
-- A task app's organized view: one tag, two priorities, soonest due first
-- (the seed gives every user tags t0 … t4, priorities and due dates).
make["list-filtered"] = function()
    return wrk.format("GET", "/api/tasks?tag=t1&priority=high,medium&sort=due_at&order=asc&limit=50",
        headers(anyone().auth))
end
make["list-heavy"] = function()
    return wrk.format("GET", "/api/tasks?status=pending&sort=title&order=asc&limit=50&offset=1000", headers(big))
end
make["search"] = function()
    return wrk.format("GET", "/api/tasks?q=" .. word, headers(big))
end
make["get"] = function()
    local user = anyone()
    return wrk.format("GET", "/api/tasks/" .. own_task(user), headers(user.auth))
end
make["create"] = function()
    local body = '{"title": ' .. unique_title("Created") .. ', "description": "bench"}'
    return wrk.format("POST", "/api/tasks", headers(anyone().auth, true), body)
end
make["update"] = function()
    local user = anyone()
    local body = '{"title": ' .. unique_title("Updated") .. ', "description": null}'
    return wrk.format("PUT", "/api/tasks/" .. own_task(user), headers(user.auth, true), body)
end
make["toggle"] = function()
    local user = anyone()
    return wrk.format("PATCH", "/api/tasks/" .. own_task(user) .. "/complete", headers(user.auth))
end
-- 70% reads (half lists, half single tasks), 20% writes (creates and updates),
-- 10% completion toggles.
make["mixed"] = function()
    local r = math.random()
    if r < 0.35 then return make["list"]() end
    if r < 0.70 then return make["get"]() end
    if r < 0.80 then return make["create"]() end
    if r < 0.90 then return make["update"]() end
    return make["toggle"]()
end

-- PocketBase's own requests for list, get, create and update, each as a
-- random user on that user's own records (its rules allow no other): the 50
-- newest with the total (PocketBase's list counts unless told skipTotal),
-- one record, a create naming its owner, a PATCH of the title.
local pb_tasks = "/api/collections/tasks/records"
make["pb-list"] = function()
    return wrk.format("GET", pb_tasks .. "?sort=-created&perPage=50", headers(anyone().auth))
end
make["pb-get"] = function()
    local user = anyone()
    return wrk.format("GET", pb_tasks .. "/" .. own_task(user), headers(user.auth))
end
make["pb-create"] = function()
    local user = anyone()
    local body = '{"title": ' .. unique_title("Created") .. ', "description": "bench", "user": "' .. user.id .. '"}'
    return wrk.format("POST", pb_tasks, headers(user.auth, true), body)
end
make["pb-update"] = function()
    local user = anyone()
    local body = '{"title": ' .. unique_title("Updated") .. '}'
    return wrk.format("PATCH", pb_tasks .. "/" .. own_task(user), headers(user.auth, true), body)
end

function request()
    return make[scenario]()
end

local function statuses()
    local count, body = {}, {}
    for _, thread in ipairs(threads) do
        local failed, example = thread:get("failed") or {}, thread:get("example") or {}
        for status, n in pairs(failed) do
            count[status] = (count[status] or 0) + n
            body[status] = body[status] or example[status]
        end
    end
    for status, n in pairs(count) do
        io.write(string.format("status %s: %d responses, e.g. %s\n", status, n, body[status]))
    end
end

function done(summary, latency, requests)
    statuses()
    local e = summary.errors
    io.write(string.format(
        '{"requests": %d, "duration_s": %.6f, "rps": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, ' ..
        '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}}\n',
        summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
        e.connect, e.read, e.write, e.timeout, e.status))
end
