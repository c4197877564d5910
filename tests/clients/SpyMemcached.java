// spymemcached (Debian's libspymemcached-java) against one server, in the
// text and the binary protocol: the operations its own tests cover
// (get/set/cas, bulk gets, arithmetic, append/prepend, touch, delete,
// flush, stats, versions) and issue 17's case, a value over the item
// size limit refused once it was sent (and the connection goes on). Debian ships those tests only
// in the source package, not reachable here. Prints TAP for run_suites.py.
// Usage: java -cp spymemcached.jar:. SpyMemcached HOST PORT

import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import net.spy.memcached.CASResponse;
import net.spy.memcached.CASValue;
import net.spy.memcached.ConnectionFactoryBuilder;
import net.spy.memcached.MemcachedClient;

public class SpyMemcached {
    static int n = 0, failed = 0;

    static void check(String name, boolean ok) {
        n++;
        if (!ok)
            failed++;
        System.out.println((ok ? "ok " : "not ok ") + n + " - " + name);
    }

    interface Step { boolean run() throws Exception; }

    static void t(String name, Step s) {
        boolean ok;
        try {
            ok = s.run();
        } catch (Exception e) {
            ok = false;
            name += " (" + e + ")";
        }
        check(name, ok);
    }

    public static void main(String[] args) throws Exception {
        InetSocketAddress addr = new InetSocketAddress(args[0], Integer.parseInt(args[1]));
        for (ConnectionFactoryBuilder.Protocol proto : ConnectionFactoryBuilder.Protocol.values()) {
            String p = proto == ConnectionFactoryBuilder.Protocol.BINARY ? "binary" : "text";
            MemcachedClient m = new MemcachedClient(new ConnectionFactoryBuilder()
                    .setProtocol(proto).setOpTimeout(10000).build(), Arrays.asList(addr));
            String k = "spy_" + p + "_";
            t(p + ": set/get", () -> m.set(k + "a", 0, "hello").get()
                    && "hello".equals(m.get(k + "a")));
            t(p + ": get miss is null", () -> m.get(k + "none") == null);
            t(p + ": add existing fails", () -> !m.add(k + "a", 0, "x").get());
            t(p + ": add new", () -> m.add(k + "new", 0, "n").get() && "n".equals(m.get(k + "new")));
            t(p + ": replace missing fails", () -> !m.replace(k + "missing", 0, "x").get());
            t(p + ": replace existing", () -> m.replace(k + "a", 0, "bye").get()
                    && "bye".equals(m.get(k + "a")));
            t(p + ": gets and cas", () -> {
                CASValue<Object> v = m.gets(k + "a");
                return v != null && m.cas(k + "a", v.getCas(), "casd") == CASResponse.OK
                        && m.cas(k + "a", v.getCas(), "stale") == CASResponse.EXISTS
                        && m.cas(k + "nokey", 1, "x") == CASResponse.NOT_FOUND
                        && "casd".equals(m.get(k + "a"));
            });
            t(p + ": getBulk hits only", () -> {
                m.set(k + "m1", 0, "v1").get();
                m.set(k + "m2", 0, "v2").get();
                Map<String, Object> got = m.getBulk(k + "m1", k + "m2", k + "mnone");
                return got.size() == 2 && "v1".equals(got.get(k + "m1")) && "v2".equals(got.get(k + "m2"));
            });
            t(p + ": incr/decr", () -> {
                m.set(k + "c", 0, "10").get();
                return m.incr(k + "c", 5) == 15 && m.decr(k + "c", 3) == 12 && m.decr(k + "c", 100) == 0
                        && m.incr(k + "nonum", 1) == -1;
            });
            t(p + ": incr with default creates", () -> m.incr(k + "init", 1, 7) == 7
                    && m.incr(k + "init", 1, 7) == 8);
            t(p + ": append/prepend", () -> {
                m.set(k + "s", 0, "mid").get();
                long cas = m.gets(k + "s").getCas();
                return m.append(cas, k + "s", "-end").get() && m.prepend(0, k + "s", "start-").get()
                        && "start-mid-end".equals(m.get(k + "s"));
            });
            t(p + ": touch", () -> m.set(k + "e", 100, "e").get() && m.touch(k + "e", 200).get()
                    && !m.touch(k + "nokey", 10).get());
            t(p + ": delete", () -> m.delete(k + "new").get() && m.get(k + "new") == null
                    && !m.delete(k + "new").get());
            t(p + ": 500 KB value", () -> {
                char[] c = new char[500000];
                Arrays.fill(c, 'b');
                String big = new String(c);
                return m.set(k + "big", 0, big).get() && big.equals(m.get(k + "big"));
            });
            // over -I (1 MiB), under the client's own 20 MiB cap: the server
            // answers once the value is in, while the client still sends
            t(p + ": 8 MiB value refused, the connection goes on", () -> {
                byte[] huge = new byte[8 * 1024 * 1024];
                new java.util.Random(17).nextBytes(huge);   // the client compresses
                boolean stored;
                try {
                    stored = m.set(k + "huge", 0, huge).get(60, TimeUnit.SECONDS);
                } catch (Exception e) {
                    stored = false;   // refused: spymemcached reports it so
                }
                return !stored && "casd".equals(m.get(k + "a"));
            });
            t(p + ": versions", () -> {
                Collection<String> v = m.getVersions().values();
                return v.size() == 1 && v.contains("1.6.45");
            });
            t(p + ": stats names", () -> {
                Map<String, String> s = m.getStats().values().iterator().next();
                return s.containsKey("curr_items") && s.containsKey("get_hits") && s.containsKey("pid");
            });
            t(p + ": flush", () -> m.flush().get() && m.get(k + "a") == null);
            m.shutdown(10, TimeUnit.SECONDS);
        }
        System.out.println("1.." + n);
        System.exit(failed == 0 ? 0 : 1);
    }
}
