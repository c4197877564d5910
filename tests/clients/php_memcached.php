<?php
// php-memcached (Debian's php-memcached, on libmemcached) against one
// server, in the text and the binary protocol: the operations its own
// .phpt tests cover (get/set/cas, multi, arithmetic, append/prepend,
// touch, delete, flush, stats, version, result codes, no SASL). Debian
// ships those tests only in the source package, not reachable here.
// Prints TAP ("ok N - name" / "not ok N - name") for run_suites.py.
// Usage: php php_memcached.php HOST PORT

$host = $argv[1];
$port = (int)$argv[2];
$n = 0;
$failed = 0;

function check($name, $ok, $detail = '')
{
    global $n, $failed;
    $n++;
    if ($ok) {
        echo "ok $n - $name\n";
    } else {
        $failed++;
        echo "not ok $n - $name $detail\n";
    }
}

function client($host, $port, $binary)
{
    $m = new Memcached();
    $m->setOption(Memcached::OPT_BINARY_PROTOCOL, $binary);
    $m->setOption(Memcached::OPT_COMPRESSION, false);
    $m->addServer($host, $port);
    return $m;
}

foreach (array('text' => false, 'binary' => true) as $proto => $binary) {
    $m = client($host, $port, $binary);
    $p = "php_{$proto}_";
    $t = function ($name, $ok, $detail = '') use ($proto) {
        check("$proto: $name", $ok, $detail);
    };

    $t('set/get', $m->set("{$p}a", 'hello') && $m->get("{$p}a") === 'hello');
    $t('get miss: false, RES_NOTFOUND',
       $m->get("{$p}none") === false && $m->getResultCode() === Memcached::RES_NOTFOUND);
    $t('set an array (serialized, flags kept)',
       $m->set("{$p}arr", array(1, 'two' => 2)) && $m->get("{$p}arr") === array(1, 'two' => 2));
    $t('set an int keeps its type', $m->set("{$p}int", 42) && $m->get("{$p}int") === 42);
    // memcached's binary protocol answers "key exists" where text says NOT_STORED
    $t('add existing: refused, the result code memcached gives',
       !$m->add("{$p}a", 'x') && $m->getResultCode() ===
       ($binary ? Memcached::RES_DATA_EXISTS : Memcached::RES_NOTSTORED), $m->getResultCode());
    $t('add new', $m->add("{$p}new", 'n') && $m->get("{$p}new") === 'n');
    $t('replace missing fails', !$m->replace("{$p}missing", 'x'));
    $t('replace existing', $m->replace("{$p}a", 'bye') && $m->get("{$p}a") === 'bye');

    // cas
    $got = $m->get("{$p}a", null, Memcached::GET_EXTENDED);
    $t('get extended gives a cas', is_array($got) && $got['cas'] > 0);
    $t('cas with the right token', $m->cas($got['cas'], "{$p}a", 'casd'));
    $t('cas with a stale token: RES_DATA_EXISTS',
       !$m->cas($got['cas'], "{$p}a", 'stale') && $m->getResultCode() === Memcached::RES_DATA_EXISTS);
    $t('value after cas', $m->get("{$p}a") === 'casd');

    // multi
    $items = array("{$p}m1" => 'v1', "{$p}m2" => 'v2', "{$p}m3" => 'v3');
    $t('setMulti', $m->setMulti($items));
    $got = $m->getMulti(array("{$p}m1", "{$p}m2", "{$p}m3", "{$p}mnone"));
    $t('getMulti: hits only, values right', $got === $items, var_export($got, true));
    $got = $m->getMulti(array("{$p}m3", "{$p}m1"), Memcached::GET_PRESERVE_ORDER);
    $t('getMulti preserve order', array_keys($got) === array("{$p}m3", "{$p}m1"));
    $res = $m->deleteMulti(array("{$p}m1", "{$p}mnone"));
    $t('deleteMulti: hit true, miss RES_NOTFOUND',
       $res["{$p}m1"] === true && $res["{$p}mnone"] === Memcached::RES_NOTFOUND,
       var_export($res, true));
    $m->getDelayed(array("{$p}m2", "{$p}m3"));
    $all = $m->fetchAll();
    $t('getDelayed + fetchAll', is_array($all) && count($all) === 2);

    // arithmetic
    $m->set("{$p}c", 10);
    $t('increment', $m->increment("{$p}c", 5) === 15);
    $t('decrement', $m->decrement("{$p}c", 3) === 12);
    $t('decrement below zero stops at 0', $m->decrement("{$p}c", 100) === 0);
    $t('increment missing: false', $m->increment("{$p}nonum", 1) === false);
    if ($binary) {   // the binary protocol creates with an initial value
        $t('increment with initial (binary)', $m->increment("{$p}init", 1, 7, 0) === 7);
    }

    // append/prepend (need compression off)
    $m->set("{$p}s", 'mid');
    $t('append', $m->append("{$p}s", '-end') && $m->get("{$p}s") === 'mid-end');
    $t('prepend', $m->prepend("{$p}s", 'start-') && $m->get("{$p}s") === 'start-mid-end');
    $t('append missing fails', !$m->append("{$p}nokey", 'x'));

    // expiry and touch
    $t('set with expiry, touch', $m->set("{$p}e", 'e', 100) && $m->touch("{$p}e", 200));
    $t('touch missing fails', !$m->touch("{$p}nokey", 10));
    if (!$binary) {   // binary exptimes are unsigned: -1 is the far future
        $t('set already expired (negative)', $m->set("{$p}x", 'x', -1) && $m->get("{$p}x") === false);
    }

    // delete
    $t('delete', $m->delete("{$p}new") && $m->get("{$p}new") === false);
    $t('delete missing: RES_NOTFOUND',
       !$m->delete("{$p}new") && $m->getResultCode() === Memcached::RES_NOTFOUND);

    // big value, key limits
    $big = str_repeat('b', 500000);
    $t('500 KB value', $m->set("{$p}big", $big) && $m->get("{$p}big") === $big);
    $t('value over 1 MB refused', !$m->set("{$p}huge", str_repeat('h', 1100000)));
    $t('server still fine after the refusal', $m->get("{$p}a") === 'casd');

    // server info
    $v = $m->getVersion();
    $t('getVersion', is_array($v) && array_values($v)[0] === '1.6.45', var_export($v, true));
    $st = $m->getStats();
    $s = is_array($st) ? array_values($st)[0] : null;
    $t('getStats names', is_array($s) && isset($s['curr_items'], $s['get_hits'], $s['version'], $s['pid']));
    $t('getAllKeys does not break the client', $m->getAllKeys() !== null);
    $t('no SASL needed (login off)', $m->set("{$p}nosasl", 1) && $m->getResultCode() === Memcached::RES_SUCCESS);

    // flush last: it empties the cache for the next protocol too
    $t('flush', $m->flush() && $m->get("{$p}a") === false);
    $m->quit();
}

echo "1..$n\n";
exit($failed ? 1 : 0);
