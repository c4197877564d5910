# scale.awk: turn bench/results/scale.txt into gnuplot data files
# (outdir/scale_conns.dat, outdir/scale_items.dat), one row per point:
#   x  mc_ops  hc_ops  mc_p99  hc_p99  mc_p999  hc_p999  mc_bpi  hc_bpi
# ("?" where a server has no result: gnuplot skips it).
function kv(line, arr,    n, i, f, eq) {
	delete arr
	n = split(line, f, " ")
	for (i = 2; i <= n; i++) {
		eq = index(f[i], "=")
		if (eq > 0)
			arr[substr(f[i], 1, eq - 1)] = substr(f[i], eq + 1)
	}
}
function v(x) { return x == "" ? "?" : x }
/^RUN / {
	kv($0, a)
	if (a["label"] !~ /^scale_/)
		next
	split(a["label"], p, "_")
	kind = p[2]; x = p[3]
	if (!((kind, x) in seen)) { seen[kind, x] = 1; xs[kind] = xs[kind] " " x }
	# several runs of a point (--scale-repeat): keep the fastest, as
	# table.awk does; other tenants only ever slow a run down
	if (((kind, x, a["impl"]) in O) && a["ops_per_sec"] + 0 <= O[kind, x, a["impl"]] + 0)
		next
	O[kind, x, a["impl"]] = a["ops_per_sec"]
	P99[kind, x, a["impl"]] = a["p99_us"]
	P999[kind, x, a["impl"]] = a["p999_us"]
}
/^MEMSCALE / {
	kv($0, a)
	B[a["items"], a["impl"]] = a["bytes_per_item"]
}
END {
	for (kind in xs) {
		f = outdir "/scale_" kind ".dat"
		print "# x mc_ops hc_ops mc_p99_us hc_p99_us mc_p999_us hc_p999_us mc_bytes_per_item hc_bytes_per_item" > f
		n = split(xs[kind], xv, " ")
		for (i = 1; i <= n; i++) {
			x = xv[i]
			print x, v(O[kind, x, "memcached"]), v(O[kind, x, "hardcached"]),
			      v(P99[kind, x, "memcached"]), v(P99[kind, x, "hardcached"]),
			      v(P999[kind, x, "memcached"]), v(P999[kind, x, "hardcached"]),
			      v(B[x, "memcached"]), v(B[x, "hardcached"]) > f
		}
		close(f)
	}
}
