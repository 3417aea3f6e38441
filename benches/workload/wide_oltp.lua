#!/usr/bin/env sysbench
-- Copied unchanged (but for this note) from the project's reference workload, shared/bench/wide_oltp.lua
-- (see shared/bench/README.md), so that a clean clone can regenerate the benchmark binlog;
-- keep the two in sync. Used by scripts/bench-parse.
-- Mixed-type OLTP against perf.wide (created and pre-filled by gen-binlog.sh).
-- One event = one transaction: 1 INSERT, 2 single-row UPDATEs, 1 single-row DELETE.
-- Values come from sysbench's seeded RNG (--rand-seed) so a rerun is repeatable
-- modulo thread interleaving.

sysbench.cmdline.options = {
   wide_rows = {"Initial rows in perf.wide (id range for updates/deletes)", 100000},
}

local statuses = {"new", "paid", "shipped", "cancelled"}

function thread_init()
   drv = sysbench.sql.driver()
   con = drv:connect()
   con:query("SET autocommit=1")
end

function thread_done()
   con:disconnect()
end

local function rnd_id()
   return sysbench.rand.uniform(1, sysbench.opt.wide_rows)
end

local function json_doc()
   return string.format(
      '{"sku":"%s","qty":%d,"tags":["%s","%s"],"price":%d.%02d,"gift":%s}',
      sysbench.rand.string("@@@@-####"), sysbench.rand.uniform(1, 20),
      sysbench.rand.string("@@@@@"), sysbench.rand.string("@@@"),
      sysbench.rand.uniform(1, 9999), sysbench.rand.uniform(0, 99),
      (sysbench.rand.uniform(0, 1) == 1) and "true" or "false")
end

local function note()
   -- 40..400 characters, NULL 10% of the time
   if sysbench.rand.uniform(1, 10) == 1 then return "NULL" end
   local n = sysbench.rand.uniform(1, 10)
   return "'" .. string.rep(sysbench.rand.string("@@@@@@@@@@ ########## "), n) .. "'"
end

local function payload()
   if sysbench.rand.uniform(1, 5) == 1 then return "NULL" end
   -- binary-ish content: hex of random digits, 16..128 bytes
   local n = sysbench.rand.uniform(1, 8)
   return "UNHEX('" .. string.rep(sysbench.rand.string("################################"), n) .. "')"
end

function event()
   con:query("BEGIN")
   con:query(string.format(
      "INSERT INTO perf.wide (u64, amount, ratio, name, note, created, day, attrs, status, payload) " ..
      "VALUES (%u * 4294967296 + %u, %d.%02d, %d.%d, '%s', %s, " ..
      "NOW(6) - INTERVAL %d SECOND, CURDATE() - INTERVAL %d DAY, '%s', '%s', %s)",
      sysbench.rand.uniform(0, 4294967295), sysbench.rand.uniform(0, 4294967295),
      sysbench.rand.uniform(0, 9999999999), sysbench.rand.uniform(0, 99),
      sysbench.rand.uniform(0, 1000), sysbench.rand.uniform(0, 999999),
      sysbench.rand.string("user-@@@@@@@@-####"), note(),
      sysbench.rand.uniform(0, 86400000), sysbench.rand.uniform(0, 3650),
      json_doc(), statuses[sysbench.rand.uniform(1, 4)], payload()))
   con:query(string.format(
      "UPDATE perf.wide SET amount = amount + %d.%02d, status = '%s', " ..
      "attrs = JSON_SET(COALESCE(attrs, '{}'), '$.qty', %d) WHERE id = %d",
      sysbench.rand.uniform(0, 999), sysbench.rand.uniform(0, 99),
      statuses[sysbench.rand.uniform(1, 4)], sysbench.rand.uniform(1, 50), rnd_id()))
   con:query(string.format(
      "UPDATE perf.wide SET note = %s, name = '%s' WHERE id = %d",
      note(), sysbench.rand.string("user-@@@@@@@@-####"), rnd_id()))
   con:query(string.format("DELETE FROM perf.wide WHERE id = %d", rnd_id()))
   con:query("COMMIT")
end
