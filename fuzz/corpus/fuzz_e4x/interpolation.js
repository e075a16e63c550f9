var doc = <root id={id} n={`t${ {a: '}'}.a }`}>
  <!-- note --><![CDATA[<raw>{x}</raw>]]>
  <item v="$1 \ `">{ i < n ? <b/> : <c c={d.@e}/> }</item>
</root>;
var list = <><a/><b>{f("<", /}/g)}</b></>;
