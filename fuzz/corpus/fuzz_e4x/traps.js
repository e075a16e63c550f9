for (var i = 0; i < n; i++) { if (a <b) {} x = a<b>c; y = a<<b; z = f()<g; w = arr[0] < 3; }
s = '<a>' + "x.@y" + `<b>${ '<c>' + `${<d/>}` }` + /<a>|[/<]/g.source; // <e>
/* <f> x..y */ if (x) /<g>/.test(s);
<!-- html comment
--> html close comment
