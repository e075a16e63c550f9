for each (var e in doc..item) { logInfo(e.@id + e.@* + e.* + e..@v); e.@id = 1; }
for each (let [k, v] in f("a" in o, [b in c])) g(k..x, v.*);
x = 1..toString() + a?.b + [...xs].length() + (a / b < c / d);
