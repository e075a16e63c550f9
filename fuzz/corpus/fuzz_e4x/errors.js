default xml namespace = "urn:x";
y = x.ns::z + x.@ns::a + x.(a == 1) + x.@[n];
z = <{n}>t</{n}>; w = <?xml version="1.0"?>; v = <a><b></a>;
