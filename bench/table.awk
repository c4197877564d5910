# table.awk: turn bench/results/latest.txt (RUN/MEM/SKIP key=value lines)
# into the side-by-side Markdown tables printed by run.sh and pasted into
# BENCHMARKS.md. Ratios are hardcached / memcached ("-" when one is missing):
# impl=memcached is Debian's 1.6.18, impl=memcached145 the newest release,
# 1.6.45, the yardstick of issue 21 (its columns stay "-" when it was absent).

function kv(line, arr,    n, i, f, eq) {
	delete arr
	n = split(line, f, " ")
	for (i = 2; i <= n; i++) {
		eq = index(f[i], "=")
		if (eq > 0)
			arr[substr(f[i], 1, eq - 1)] = substr(f[i], eq + 1)
	}
}
function ratio(a, b) {
	if (a == "" || b == "" || b + 0 == 0)
		return "-"
	return sprintf("%.2f", a / b)
}
function num(x) { return x == "" ? "-" : x }
function ops(s, l) {
	if (R[s, l, "ops_per_sec"] == "")
		return "-"
	if ((s, l) in noisy) { anynoisy = 1; return R[s, l, "ops_per_sec"] "*" }
	return R[s, l, "ops_per_sec"]
}
function lat(s, l) {
	if (!((s, l, "p50_us") in R))
		return "-"
	return sprintf("%s / %s / %s", R[s, l, "p50_us"], R[s, l, "p99_us"], R[s, l, "p999_us"])
}
# Median of the open-loop runs' q-th percentile (1 p50, 2 p99, 3 p99.9).
function median(s, l, q,    n, i, j, t, v) {
	n = nlat[s, l]
	for (i = 1; i <= n; i++)
		v[i] = LAT[s, l, q, i] + 0
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function mlat(s, l) {
	if (nlat[s, l] == 0)
		return "-"
	return sprintf("%.1f / %.1f / %.1f", median(s, l, 1), median(s, l, 2), median(s, l, 3))
}
function mratio(l, q, ref) {
	if (nlat["hardcached", l] == 0 || nlat[ref, l] == 0)
		return "-"
	return ratio(median("hardcached", l, q), median(ref, l, q))
}
function spread(s, l, q,    i, lo, hi) {
	for (i = 1; i <= nlat[s, l]; i++) {
		if (i == 1 || LAT[s, l, q, i] + 0 < lo) lo = LAT[s, l, q, i] + 0
		if (i == 1 || LAT[s, l, q, i] + 0 > hi) hi = LAT[s, l, q, i] + 0
	}
	return nlat[s, l] == 0 ? "-" : sprintf("%.0f-%.0f", lo, hi)
}
# The goals of issue 7 (against 1.6.18) and of issue 21 (against 1.6.45;
# BENCHMARKS.md): which side of each line a load fell on, and the load
# that came closest to the line. Issue 7's are judged on this run's best
# runs, where one run's "no" by a little says as little as its "yes" by a
# little (ratios move by 15-30% between runs here); issue 21's CPU and
# tail goals on the interleaved rounds of phase 1c when present (CEIL and
# LATR lines, rounds_cpu_goal and rounds_lat_goal below).
function goal_row(what, where, value, met) {
	goal_rows = goal_rows sprintf("| %s | %s | %s | %s |\n", what, where, value, met ? "yes" : "**no**")
}
function pipeline_of(l,    parts) {
	split(l, parts, "_")
	return substr(parts[3], 2) + 0
}
# What the do-nothing server reached at load l, as a ratio to memcached:
# about the most a server making the same system calls reaches there.
function ceiling(l, ref,    r) {
	r = ratio(R["null", l, "ops_per_cpu_sec"], R[ref, l, "ops_per_cpu_sec"])
	return r == "-" ? "" : "; do-nothing server " r
}
function cpu_goal(p, want, ref,    i, l, r, n, ok, lo, lol) {
	n = ok = 0
	for (i = 1; i <= nl; i++) {
		l = order[i]
		if (pipeline_of(l) != p)
			continue
		r = ratio(R["hardcached", l, "ops_per_cpu_sec"], R[ref, l, "ops_per_cpu_sec"])
		if (r == "-")
			continue
		n++
		if (r + 0 >= want) ok++
		if (n == 1 || r + 0 < lo) { lo = r + 0; lol = l }
	}
	if (n > 0)
		goal_row(sprintf("ops per CPU-s >= %.2fx, pipeline %d", want, p), sprintf("%d of %d loads", ok, n),
		         sprintf("lowest %.2f (%s)%s", lo, desc(lol), ceiling(lol, ref)), ok == n)
}
# One issue's goals against one memcached (ref; its name in the rows, who):
# ops per CPU-s at pipeline 16 and 1, throughput, tails, bytes per item
# (32 B: at most m32 times ref's and m32abs bytes; 200 B: m200 times),
# RSS under overwrites (at most ow times ref's; 0: no such goal).
function goals(issue, ref, who, cpu16, cpu1, m32, m32abs, m200, ow,    i, l, r, n, lo, lol, v, mb, hb) {
	goal_rows = ""
	if (!(issue == 21 && rounds_cpu_goal(16, cpu16) > 0))
		cpu_goal(16, cpu16, ref)
	if (!(issue == 21 && rounds_cpu_goal(1, cpu1) > 0))
		cpu_goal(1, cpu1, ref)
	n = 0
	for (i = 1; i <= nl; i++) {
		l = order[i]
		r = ratio(R["hardcached", l, "ops_per_sec"], R[ref, l, "ops_per_sec"])
		if (r == "-")
			continue
		n++
		if (n == 1 || r + 0 < lo) { lo = r + 0; lol = l }
	}
	if (n > 0)
		goal_row("throughput >= " who "'s", n " loads", sprintf("lowest %.2f (%s)", lo, desc(lol)), lo >= 1)
	for (i = 1; issue == 21 && i <= nlr; i++)
		rounds_lat_goal(lrorder[i])
	for (i = 1; !(issue == 21 && nlr > 0) && i <= nr; i++) {
		l = rorder[i]
		if (mratio(l, 2, ref) == "-")
			continue
		goal_row("p99 and p99.9 <= " who "'s", desc(l), "p99 " mratio(l, 2, ref) ", p99.9 " mratio(l, 3, ref),
		         mratio(l, 2, ref) + 0 <= 1 && mratio(l, 3, ref) + 0 <= 1)
	}
	for (i = 1; i <= nm; i++) {
		v = morder[i]
		mb = M[ref, v, "bytes_per_item"]; hb = M["hardcached", v, "bytes_per_item"]
		if (ratio(hb, mb) == "-")
			continue
		if (v == 32)
			goal_row(sprintf("bytes per item <= %sx%s", m32, m32abs ? " and <= " m32abs : ""), v " B values",
			         sprintf("%s B, %sx", hb, ratio(hb, mb)),
			         ratio(hb, mb) + 0 <= m32 && (!m32abs || hb + 0 <= m32abs))
		else if (v == 200)
			goal_row(sprintf("bytes per item <= %sx", m200), v " B values", sprintf("%s B, %sx", hb, ratio(hb, mb)),
			         ratio(hb, mb) + 0 <= m200)
	}
	r = ratio(OV["hardcached", "rss_after_kb"], OV[ref, "rss_after_kb"])
	if (ow && r != "-")
		goal_row(sprintf("RSS under overwrites <= %sx", ow), "1 KiB sets over 32 B, -m " OV[ref, "mem_mb"],
		         sprintf("%s kB, %sx", OV["hardcached", "rss_after_kb"], r), r + 0 <= ow)
	if (goal_rows == "")
		return
	print "Goals of issue " issue " in this run (hardcached / " who "; see BENCHMARKS.md):"
	print ""
	print "| goal | points | this run | met? |"
	print "|---|---|---|---|"
	printf "%s\n", goal_rows
}
# ---- issue 21 over interleaved rounds (CEIL and LATR lines, phase 1c) ----
# Sort v[1..n] in place (insertion sort: a few dozen values).
function vsort(v, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
}
function vmedian(v, n) {
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
# The ratio a / b of ops per CPU-s at load k, one per round both ran in;
# sets rn (rounds), rmin, rmax and returns the median (-1: no round).
function cratio(k, a, b,    i, r, v, n) {
	n = 0
	for (i = 1; i <= ncr[k]; i++) {
		r = cround[k, i]
		if (CT[a, k, r] > 0 && CT[b, k, r] > 0 && CN[b, k, r] > 0)
			v[++n] = (CN[a, k, r] / CT[a, k, r]) / (CN[b, k, r] / CT[b, k, r])
	}
	rn = n
	if (n == 0)
		return -1
	vsort(v, n)
	rmin = v[1]; rmax = v[n]
	return vmedian(v, n)
}
# A cell of the rounds table: median m of cratio's last call, its range.
function rcell(m) {
	return m < 0 ? " - |" : sprintf(" %.2f (%.2f-%.2f) |", m, rmin, rmax)
}
function cdesc(k,    f) {
	split(k, f, SUBSEP)
	return sprintf("%s B, %d%% get, pipeline %s", f[1], f[2] * 100 + 0.5, f[3])
}
# Percentile q (2: p99, 3: p99.9) at rate k: the median of the per-round
# ratios a / b (sets rn), in how many of the rounds a was worse (lw) and
# in how many the two read the same (lt: hcbench's histogram is coarse in
# the milliseconds; a sign test leaves ties out).
function lratio(k, q, a, b,    i, r, v, n) {
	n = lw = lt = 0
	for (i = 1; i <= nlrr[k]; i++) {
		r = lround[k, i]
		if (LR[a, k, r, q] + 0 > 0 && LR[b, k, r, q] + 0 > 0) {
			v[++n] = LR[a, k, r, q] / LR[b, k, r, q]
			if (LR[a, k, r, q] + 0 > LR[b, k, r, q] + 0) lw++
			else if (LR[a, k, r, q] + 0 == LR[b, k, r, q] + 0) lt++
		}
	}
	rn = n
	if (n == 0)
		return -1
	vsort(v, n)
	return vmedian(v, n)
}
# One-sided sign test: the chance of w or more of n fair coin flips
# landing "worse". Below 0.05, the worse rounds are more than chance.
function sign_p(w, n,    i, c, p) {
	p = 0; c = 1
	for (i = 0; i <= n; i++) {
		if (i >= w) p += c
		c = c * (n - i) / (i + 1)
	}
	return p / 2 ^ n
}
function rounds_cpu_goal(p, want,    i, k, f, m, n, ok, lo, lok) {
	n = ok = 0
	for (i = 1; i <= ncl; i++) {
		k = clorder[i]
		split(k, f, SUBSEP)
		if (f[3] + 0 != p || (m = cratio(k, "hc", "mc")) < 0)
			continue
		n++
		if (m >= want) ok++
		if (n == 1 || m < lo) { lo = m; lok = k; lorn = rn }
	}
	if (n > 0)
		goal_row(sprintf("ops per CPU-s >= %.2fx, pipeline %d", want, p),
		         sprintf("%d of %d loads, median of %d rounds", ok, n, lorn),
		         sprintf("lowest %.2f (%s); do-nothing server %.2f", lo, cdesc(lok),
		                 cratio(lok, "null", "mc")), ok == n)
	return n
}
# The tails at rate k are "no worse" unless the rounds show them worse:
# in more rounds than luck explains (one-sided sign test over the rounds
# that differ, p < 0.05), or by more than LAT_MARGIN in the median round
# (the do-nothing server itself reached 1.18 at 20,000/s over 25 rounds:
# this VM's wake-ups). Fewer than LAT_ROUNDS_MIN rounds decide nothing
# (with 4, even 4 worse rounds of 4 have p 0.06).
function rounds_lat_goal(k,    m2, m3, w2, w3, t2, t3, n, ok) {
	m2 = lratio(k, 2, "hc", "mc"); w2 = lw; t2 = lt; n = rn
	m3 = lratio(k, 3, "hc", "mc"); w3 = lw; t3 = lt
	if (m2 < 0 || m3 < 0)
		return
	ok = n >= LAT_ROUNDS_MIN && sign_p(w2, n - t2) >= 0.05 && sign_p(w3, n - t3) >= 0.05 &&
	     m2 <= LAT_MARGIN && m3 <= LAT_MARGIN
	goal_row("p99 and p99.9 no worse than 1.6.45's", sprintf("open loop %s/s, %d rounds", k, n),
	         sprintf("median of ratios p99 %.2f, p99.9 %.2f (at most %.2f); hc worse in %d and %d rounds (sign test p %.2f, %.2f)%s",
	                 m2, m3, LAT_MARGIN, w2, w3, sign_p(w2, n - t2), sign_p(w3, n - t3),
	                 n < LAT_ROUNDS_MIN ? "; too few rounds" : ""), ok)
}
function rounds_tables(    i, k, m, n, m3, w2, w3, t2, t3, n2, n3) {
	if (ncl > 0) {
		print "Issue 21 over interleaved rounds (bench/ceiling.sh: one long-running instance of each, every load back to back, the servers in turn; ratios of ops per CPU-s taken within a round, median (min-max)):"
		print ""
		print "| load | rounds | hc/1.6.45 | do-nothing/1.6.45 | hc/do-nothing |"
		print "|---|---:|---:|---:|---:|"
		for (i = 1; i <= ncl; i++) {
			k = clorder[i]
			if ((m = cratio(k, "hc", "mc")) < 0)
				continue
			printf "| %s | %d |%s", cdesc(k), rn, rcell(m)
			printf "%s", rcell(cratio(k, "null", "mc"))
			printf "%s\n", rcell(cratio(k, "hc", "null"))
		}
		print ""
	}
	if (nlr > 0) {
		print "Tail latency over interleaved rounds (bench/latency.sh: open loop, 32 B, 90% get, pipeline 1, 50 connections; per-round ratios to 1.6.45, median; hc worse: rounds where its figure was above 1.6.45's, and the one-sided sign test's chance of that many by luck):"
		print ""
		print "| rate | rounds | p99 hc/1.6.45 | p99.9 hc/1.6.45 | p99 do-nothing/1.6.45 | p99.9 do-nothing/1.6.45 | hc worse p99 / p99.9 | sign test p |"
		print "|---|---:|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nlr; i++) {
			k = lrorder[i]
			m = lratio(k, 2, "hc", "mc"); w2 = lw; t2 = lt; n = rn
			if (m < 0)
				continue
			m3 = lratio(k, 3, "hc", "mc"); w3 = lw; t3 = lt
			n2 = lratio(k, 2, "null", "mc"); n3 = lratio(k, 3, "null", "mc")
			printf "| %s/s | %d | %.2f | %.2f | %s | %s | %d / %d | %.2f / %.2f |\n", k, n, m, m3,
			       n2 < 0 ? "-" : sprintf("%.2f", n2), n3 < 0 ? "-" : sprintf("%.2f", n3),
			       w2, w3, sign_p(w2, n - t2), sign_p(w3, n - t3)
		}
		print ""
	}
}
BEGIN {
	LAT_MARGIN = 1.25; LAT_ROUNDS_MIN = 5
	pct[1] = "p50_us"; pct[2] = "p99_us"; pct[3] = "p999_us"
	IMPL[1] = "memcached"; IMPL[2] = "memcached145"; IMPL[3] = "hardcached"
}
function desc(l,    parts, n, v, mix, p, d, i) {
	# v32_get0.9_p16_t2_r20000 -> "32 B, 90% get, pipeline 16, 2 threads, 20000/s"
	n = split(l, parts, "_")
	v = substr(parts[1], 2); mix = substr(parts[2], 4); p = substr(parts[3], 2)
	d = sprintf("%s B, %d%% get, pipeline %s", v, mix * 100 + 0.5, p)
	for (i = 4; i <= n; i++) {
		if (parts[i] ~ /^t[0-9]+$/)
			d = d sprintf(", %s thread%s", substr(parts[i], 2), substr(parts[i], 2) == 1 ? "" : "s")
		else if (parts[i] ~ /^r[0-9]+$/)
			d = d sprintf(", open loop %s/s", substr(parts[i], 2))
	}
	return d
}
/^RUN / {
	kv($0, a)
	s = a["impl"]; l = a["label"]
	# With --repeat, keep the fastest run: noise from other tenants only
	# ever slows a run down.
	nruns[s, l]++
	# Open-loop runs all carry the offered load, and a tail is what they
	# measure: keep every run's percentiles, the table shows the medians.
	if (l ~ /_r[0-9]+$/) {
		nlat[s, l]++
		for (q = 1; q <= 3; q++)
			LAT[s, l, q, nlat[s, l]] = a[pct[q]]
	} else if (((s, l, "ops_per_sec") in R) && a["ops_per_sec"] + 0 <= R[s, l, "ops_per_sec"] + 0)
		next
	delete noisy[s, l]
	delete errs[s, l]
	if (l ~ /^scale_/) {
		if (!(l in sseen)) { sseen[l] = 1; sorder[++nsc] = l }
	} else if (l ~ /_r[0-9]+$/) {
		if (!(l in rseen)) { rseen[l] = 1; rorder[++nr] = l }
	} else if (!(l in seen) && s != "null") { seen[l] = 1; order[++nl] = l }
	if (s == "null" && !(l in nseen)) { nseen[l] = 1; norder[++nn] = l }
	for (k in a)
		R[s, l, k] = a[k]
	seenimpl[s] = 1
	if (a["errors"] + 0 > 0)
		errs[s, l] = a["errors"]
	# Another tenant used over 10% of a core during the run: mark it.
	for (k in a)
		if (k ~ /^other_cpu_s_core/ && a[k] + 0 > 0.1 * a["secs"])
			noisy[s, l] = 1
}
/^MEM / {
	kv($0, a)
	s = a["impl"]; v = a["value"]
	seenimpl[s] = 1
	if (!(v in mseen)) { mseen[v] = 1; morder[++nm] = v }
	for (k in a)
		M[s, v, k] = a[k]
}
/^OVERWRITE / {
	kv($0, a)
	s = a["impl"]
	seenimpl[s] = 1
	nov++
	for (k in a)
		OV[s, k] = a[k]
}
/^MEMSCALE / {
	kv($0, a)
	MS[a["impl"], a["items"]] = a["bytes_per_item"]
}
/^SKIP / {
	kv($0, a)
	skipped[a["impl"]] = 1
}
/^CEIL / {
	kv($0, a)
	k = a["value"] SUBSEP a["mix"] SUBSEP a["pipeline"]
	if (!(k in clseen)) { clseen[k] = 1; clorder[++ncl] = k }
	if (!((k, a["round"]) in crseen)) { crseen[k, a["round"]] = 1; cround[k, ++ncr[k]] = a["round"] }
	CT[a["impl"], k, a["round"]] = a["ticks"]; CN[a["impl"], k, a["round"]] = a["requests"]
}
/^LATR / {
	kv($0, a)
	k = a["rate"]
	if (!(k in lrseen)) { lrseen[k] = 1; lrorder[++nlr] = k }
	if (!((k, a["round"]) in lrrseen)) { lrrseen[k, a["round"]] = 1; lround[k, ++nlrr[k]] = a["round"] }
	LR[a["impl"], k, a["round"], 2] = a["p99_us"]; LR[a["impl"], k, a["round"], 3] = a["p999_us"]
}
/^SETTLE / {
	kv($0, a)
	k = a["value"] " B, " a["srv_threads"] " thread(s)"
	if (!(k in stseen)) { stseen[k] = 1; storder[++nst] = k }
	ST[a["impl"], k] = a["ops_per_cpu_sec"]
}
END {
	if (nl > 0) {
		print "Throughput, server CPU efficiency and latency (50 connections, closed loop; best of each server's runs):"
		print ""
		print "| load | 1.6.18 ops/s | 1.6.45 ops/s | hardcached ops/s | hc/1.6.18 | hc/1.6.45 | 1.6.18 ops per CPU-s | 1.6.45 ops per CPU-s | hardcached ops per CPU-s | hc/1.6.18 | hc/1.6.45 | 1.6.18 p50/p99/p99.9 us | 1.6.45 p50/p99/p99.9 us | hardcached p50/p99/p99.9 us |"
		print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nl; i++) {
			l = order[i]
			mo = R["memcached", l, "ops_per_sec"]; no = R["memcached145", l, "ops_per_sec"]
			ho = R["hardcached", l, "ops_per_sec"]
			mc = R["memcached", l, "ops_per_cpu_sec"]; nc = R["memcached145", l, "ops_per_cpu_sec"]
			hc = R["hardcached", l, "ops_per_cpu_sec"]
			note = ""
			for (j = 1; j <= 3; j++)
				if ((IMPL[j], l) in errs) note = note " (" IMPL[j] " errors=" errs[IMPL[j], l] ")"
			printf "| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", desc(l), note,
			       ops("memcached", l), ops("memcached145", l), ops("hardcached", l), ratio(ho, mo), ratio(ho, no),
			       num(mc), num(nc), num(hc), ratio(hc, mc), ratio(hc, nc),
			       lat("memcached", l), lat("memcached145", l), lat("hardcached", l)
		}
		print ""
	}
	if (nr > 0) {
		print "Tail latency at the same offered load (open loop: hcbench --rate sends on schedule; 50 connections, 1 server thread; medians of each server's runs, alternating, and the range of p99 over them):"
		print ""
		print "| load | runs 1.6.18 / 1.6.45 / hc | 1.6.18 p50/p99/p99.9 us | 1.6.45 p50/p99/p99.9 us | hardcached p50/p99/p99.9 us | p99 hc/1.6.18 | p99.9 hc/1.6.18 | p99 hc/1.6.45 | p99.9 hc/1.6.45 | 1.6.18 p99 range us | 1.6.45 p99 range us | hardcached p99 range us |"
		print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nr; i++) {
			l = rorder[i]
			printf "| %s | %d / %d / %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", desc(l),
			       nlat["memcached", l], nlat["memcached145", l], nlat["hardcached", l],
			       mlat("memcached", l), mlat("memcached145", l), mlat("hardcached", l),
			       mratio(l, 2, "memcached"), mratio(l, 3, "memcached"),
			       mratio(l, 2, "memcached145"), mratio(l, 3, "memcached145"),
			       spread("memcached", l, 2), spread("memcached145", l, 2), spread("hardcached", l, 2)
		}
		print ""
	}
	if (nsc > 0) {
		print "Scale against Debian's memcached 1.6.18 only (32 B values, 90% get, pipeline 1, closed loop, 1 server thread; bench/scale.png):"
		print ""
		print "| point | memcached ops/s | hardcached ops/s | hc/mc | memcached p99/p99.9 us | hardcached p99/p99.9 us | memcached bytes/item | hardcached bytes/item |"
		print "|---|---:|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nsc; i++) {
			l = sorder[i]
			n = split(l, sp, "_")
			what = sp[2] == "conns" ? sp[3] " connections" : sp[3] " items"
			mo = R["memcached", l, "ops_per_sec"]; ho = R["hardcached", l, "ops_per_sec"]
			printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", what, ops("memcached", l), ops("hardcached", l),
			       ratio(ho, mo),
			       R["memcached", l, "p99_us"] == "" ? "-" : R["memcached", l, "p99_us"] " / " R["memcached", l, "p999_us"],
			       R["hardcached", l, "p99_us"] == "" ? "-" : R["hardcached", l, "p99_us"] " / " R["hardcached", l, "p999_us"],
			       sp[2] == "items" ? num(MS["memcached", sp[3]]) : "",
			       sp[2] == "items" ? num(MS["hardcached", sp[3]]) : ""
		}
		print ""
	}
	if (nn > 0) {
		print "Do-nothing server (hcbench --null-server, same pinning; no index; every get a hit read from a ring the sets were copied into): the reference for ops per CPU-s at each load:"
		print ""
		print "| load | null server ops/s | null ops per CPU-s | 1.6.18 ops per CPU-s | hardcached ops per CPU-s | null/1.6.18 | hc/1.6.18 | hc/null | client p50/p99/p99.9 us | 1.6.45 ops per CPU-s | null/1.6.45 | hc/1.6.45 |"
		print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nn; i++) {
			l = norder[i]
			nc = R["null", l, "ops_per_cpu_sec"]; xc = R["memcached145", l, "ops_per_cpu_sec"]
			mc = R["memcached", l, "ops_per_cpu_sec"]; hc = R["hardcached", l, "ops_per_cpu_sec"]
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", desc(l), ops("null", l),
			       num(nc), num(mc), num(hc), ratio(nc, mc), ratio(hc, mc), ratio(hc, nc), lat("null", l),
			       num(xc), ratio(nc, xc), ratio(hc, xc)
		}
		print ""
	}
	if (nm > 0) {
		print "Resident memory per item (fresh server, 16-byte keys, RSS after - before load / items):"
		print ""
		print "| value | 1.6.18 bytes/item | 1.6.45 bytes/item | hardcached bytes/item | hc/1.6.18 | hc/1.6.45 | 1.6.18 / 1.6.45 / hc curr_items | 1.6.18 / 1.6.45 / hc RSS after kB |"
		print "|---|---:|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nm; i++) {
			v = morder[i]
			mb = M["memcached", v, "bytes_per_item"]; xb = M["memcached145", v, "bytes_per_item"]
			hb = M["hardcached", v, "bytes_per_item"]
			printf "| %s B | %s | %s | %s | %s | %s | %s / %s / %s | %s / %s / %s |\n", v, num(mb), num(xb), num(hb),
			       ratio(hb, mb), ratio(hb, xb),
			       num(M["memcached", v, "curr_items"]), num(M["memcached145", v, "curr_items"]),
			       num(M["hardcached", v, "curr_items"]),
			       num(M["memcached", v, "rss_after_kb"]), num(M["memcached145", v, "rss_after_kb"]),
			       num(M["hardcached", v, "rss_after_kb"])
		}
		print ""
	}
	if (nst > 0) {
		print "Settling after each preload (set-heavy load at pipeline 16 before the measured runs, not in the tables above: a log store's first overwrites grow into untouched memory), ops per CPU-s:"
		print ""
		print "| values | 1.6.18 | 1.6.45 | hardcached | hc/1.6.18 | hc/1.6.45 |"
		print "|---|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nst; i++) {
			k = storder[i]
			printf "| %s | %s | %s | %s | %s | %s |\n", k, num(ST["memcached", k]),
			       num(ST["memcached145", k]), num(ST["hardcached", k]),
			       ratio(ST["hardcached", k], ST["memcached", k]),
			       ratio(ST["hardcached", k], ST["memcached145", k])
		}
		print ""
	}
	if (nov > 0) {
		print "Resident memory under overwrites (fresh server, -m " OV["hardcached", "mem_mb"] ", " OV["hardcached", "keys"] " keys of 32 B, then " OV["hardcached", "requests"] " 1 KiB sets at random; issue 21: hardcached within 2x 1.6.45):"
		print ""
		print "| server | RSS after, kB | live bytes | RSS / live | sets/s | hc RSS / this |"
		print "|---|---:|---:|---:|---:|---:|"
		split("memcached memcached145 hardcached", ovs, " ")
		for (i = 1; i <= 3; i++) {
			s = ovs[i]
			if (!((s, "rss_after_kb") in OV))
				continue
			printf "| %s | %s | %s | %s | %s | %s |\n", s == "memcached" ? "1.6.18" : s == "memcached145" ? "1.6.45" : s,
			       OV[s, "rss_after_kb"], OV[s, "live_bytes"],
			       ratio(OV[s, "rss_after_kb"] * 1024, OV[s, "live_bytes"]), OV[s, "set_ops_per_sec"],
			       ratio(OV["hardcached", "rss_after_kb"], OV[s, "rss_after_kb"])
		}
		print ""
	}
	rounds_tables()
	goals(7, "memcached", "memcached", 3, 1.25, 0.5, 67, 0.75, 0)
	goals(21, "memcached145", "memcached 1.6.45", 2, 1.2, 0.5, 0, 0.5, 2)
	if ((nl > 0 || nm > 0) && !("memcached145" in seenimpl))
		print "NOTE: memcached 1.6.45 was not in this run (scripts/memcached-ref.sh --build builds it); its columns are empty.\n"
	if (anynoisy)
		print "* another process used over 10% of a core during this run (other_cpu_s_core* in the raw line): treat it as noisy.\n"
	if ("hardcached" in skipped)
		print "NOTE: hardcached was skipped (not built or did not start); its columns are empty."
}
