// prelude.js — what a workflow script sees besides standard JavaScript, run in
// every script global before the user's code (src/script/engine.cc embeds it).
//
//   XML, XMLList        the E4X object types the transform (e4x.cc) targets:
//                       __sbXml``(…) literals, x["@a"], x["..n"], x["*"], __sbEach
//   xtk, nms            the platform's services: every method the SOAP router serves,
//                       called in process as the run's operator (__sbCall)
//   logInfo, …          the run's log (__sbLog); getOption (__sbOption)
//   instance.vars, vars the variables shared by the activities of one run
//   sqlExec, …          platform APIs stagebridge does not have: they throw
//                       "not available in stagebridge: NAME"
//
// Natives (engine.cc): __sbParseXml(text) → JSON tree, __sbCall(service, method,
// args) → [[type, value], …], __sbLog(level, text), __sbOption(name).
(function (global) {
  'use strict';
  const parseXml = global.__sbParseXml;
  const call = global.__sbCall;
  const log = global.__sbLog;
  const option = global.__sbOption;
  const known = new Set(global.__sbMethods);  // "xtk:session#Ingest", …
  for (const k of ['__sbParseXml', '__sbCall', '__sbLog', '__sbOption', '__sbMethods']) delete global[k];

  const NODE = Symbol('node');  // proxy → its node (XML) or node array (XMLList)
  const LIST = Symbol('list');
  const TARGET = Symbol('target');  // proxy → its target: {node} (XML) or {nodes, origin} (XMLList)

  // ---------------------------------------------------------------- nodes
  // {kind: 'element', name, attrs: [[name, value]], children: [], parent}
  // {kind: 'text' | 'comment' | 'cdata' | 'pi', value, parent}
  function fromTree(t, parent) {
    if (typeof t === 'string') return {kind: 'text', value: t, parent};
    if (t.k === 'c') return {kind: 'comment', value: t.v, parent};
    if (t.k === 'd') return {kind: 'cdata', value: t.v, parent};
    const n = {kind: 'element', name: t.n, attrs: t.a.map((a) => [a[0], a[1]]), children: [], parent};
    for (const c of t.c) n.children.push(fromTree(c, n));
    return n;
  }
  const TEXT_SPECIAL = /[&<>]/;
  const ATTR_SPECIAL = /[&<"\n\r\t]/;
  function escText(s) {
    if (typeof s !== 'string') s = String(s);
    if (!TEXT_SPECIAL.test(s)) return s;
    return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }
  function escAttr(s) {
    if (typeof s !== 'string') s = String(s);
    if (!ATTR_SPECIAL.test(s)) return s;
    return s
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/"/g, '&quot;')
        .replace(/\n/g, '&#10;')
        .replace(/\r/g, '&#13;')
        .replace(/\t/g, '&#9;');
  }
  // Index loops and string concatenation (ropes, flattened once by the caller):
  // a 100 000-element collection is serialized on every Ingest.
  function serialize(n) {
    switch (n.kind) {
      case 'element':
        if (n.xml !== undefined) return n.xml;
        break;
      case 'text': return escText(n.value);
      case 'comment': return '<!--' + n.value + '-->';
      case 'cdata': return '<![CDATA[' + n.value + ']]>';
      case 'attribute': return escAttr(n.value);
      default: return '';
    }
    let s = '<' + n.name;
    const attrs = n.attrs;
    for (let i = 0; i < attrs.length; ++i) s += ' ' + attrs[i][0] + '="' + escAttr(attrs[i][1]) + '"';
    const children = n.children;
    if (children.length === 0) return s + '/>';
    s += '>';
    for (let i = 0; i < children.length; ++i) s += serialize(children[i]);
    return s + '</' + n.name + '>';
  }
  // A literal's element without element children carries its serialization, made
  // with it (`xml`); every change of an element's attributes or children drops it.
  function changed(n) {
    if (n.xml !== undefined) n.xml = undefined;
  }
  function textOf(n) {
    if (n.kind === 'element') return n.children.map(textOf).join('');
    if (n.kind === 'comment') return '';
    return n.value;
  }
  function simple(n) {
    return n.kind !== 'element' || !n.children.some((c) => c.kind === 'element');
  }
  function copyNode(n, parent) {
    const c = Object.assign({}, n, {parent});
    if (n.kind === 'element') {
      c.attrs = n.attrs.map((a) => [a[0], a[1]]);
      c.children = n.children.map((x) => copyNode(x, c));
    }
    return c;
  }
  function parse(text) {
    const trees = JSON.parse(parseXml(String(text)));
    return trees.map((t) => fromTree(t, null));
  }
  // The proxy's target, or undefined for any other value (one trap, not two).
  function targetOf(v) {
    if (v === lastProxy) return lastTarget;
    return v !== null && typeof v === 'object' ? v[TARGET] : undefined;
  }
  // The XML object made last and its target: c.appendChild(<r …/>) finds the
  // literal's node without a trap.
  let lastProxy = null;
  let lastTarget = null;
  function nodesOf(v) {
    const t = targetOf(v);
    if (t === undefined) return null;
    return t.nodes !== undefined ? t.nodes : [t.node];
  }
  function isName(k) {
    return /^[A-Za-z_][\w.\-]*(:[A-Za-z_][\w.\-]*)?$/.test(k);
  }
  function descendants(n, name, out) {
    if (n.kind !== 'element') return;
    for (const c of n.children) {
      if (c.kind === 'element' && (name === '*' || c.name === name)) out.push(c);
      descendants(c, name, out);
    }
  }
  function attrDescendants(n, name, out) {
    if (n.kind !== 'element') return;
    for (const [k, v] of n.attrs) {
      if (name === '*' || k === name) out.push({kind: 'attribute', name: k, value: v, parent: n});
    }
    for (const c of n.children) attrDescendants(c, name, out);
  }
  function attrNodes(n, name) {
    if (n.kind !== 'element') return [];
    return n.attrs.filter((a) => name === '*' || a[0] === name)
        .map((a) => ({kind: 'attribute', name: a[0], value: a[1], parent: n}));
  }
  // A node without a parent (a fresh literal) is adopted; one already in a tree is copied.
  function adopt(n, parent) {
    let inside = false;  // appending an ancestor would make a cycle: copy it
    for (let p = parent; p && !inside; p = p.parent) inside = p === n;
    if (n.parent !== null || inside) return copyNode(n, parent);
    n.parent = parent;
    return n;
  }
  function toChildNodes(value, parent) {
    const t = targetOf(value);
    if (t !== undefined) {
      if (t.nodes === undefined) return [adopt(t.node, parent)];
      return t.nodes.map((n) => adopt(n, parent));
    }
    return [{kind: 'text', value: String(value), parent}];
  }

  // A method bound to its proxy, made once per proxy (x.appendChild in a loop).
  function bound(target, table, k, receiver) {
    const cache = target.bound || (target.bound = Object.create(null));
    return cache[k] || (cache[k] = table[k].bind(receiver));
  }

  // ---------------------------------------------------------------- XMLList
  const listMethods = {
    length() { return this[NODE].length; },
    toString() {
      const ns = this[NODE];
      if (ns.every(simple)) return ns.map(textOf).join('');
      return ns.map(serialize).join('\n');
    },
    toXMLString() { return this[NODE].map(serialize).join('\n'); },
    toJSON() { return this.toXMLString(); },
    valueOf() { return this; },
    text() { return makeList([].concat(...this[NODE].map((n) => (n.children || []).filter((c) => c.kind === 'text')))); },
    children() { return makeList([].concat(...this[NODE].map((n) => n.children || []))); },
    elements(name) {
      return makeList([].concat(...this[NODE].map(
          (n) => (n.children || []).filter((c) => c.kind === 'element' && (name === undefined || c.name === name)))));
    },
    attribute(name) { return makeList([].concat(...this[NODE].map((n) => attrNodes(n, String(name))))); },
    attributes() { return makeList([].concat(...this[NODE].map((n) => attrNodes(n, '*')))); },
    descendants(name) {
      const out = [];
      for (const n of this[NODE]) descendants(n, name === undefined ? '*' : String(name), out);
      return makeList(out);
    },
    child(name) {
      if (typeof name === 'number') return makeList([].concat(...this[NODE].map((n) => (n.children || []).slice(name, name + 1))));
      return this.elements(String(name));
    },
    copy() { return makeList(this[NODE].map((n) => copyNode(n, null))); },
    hasSimpleContent() { return this[NODE].every(simple); },
    hasComplexContent() { return !this[NODE].every(simple); },
  };
  const listMethodSet = new Set(Object.keys(listMethods));
  const listHandler = {
    get(t, k, receiver) {
      if (k === TARGET) return t;
      if (k === NODE) return t.nodes;
      if (k === LIST) return true;
      if (k === Symbol.iterator) return function* () { for (const n of t.nodes) yield wrap(n); };
      if (k === Symbol.toPrimitive) return () => listMethods.toString.call(receiver);
      if (typeof k === 'symbol') return undefined;
      if (listMethodSet.has(k)) return bound(t, listMethods, k, receiver);
      if (/^\d+$/.test(k)) return k < t.nodes.length ? wrap(t.nodes[k]) : undefined;
      if (k === 'constructor') return XMLList;
      if (k.startsWith('..@')) {
        const out = [];
        for (const n of t.nodes) attrDescendants(n, k.slice(3), out);
        return attrValue(out);
      }
      if (k.startsWith('..')) {
        const out = [];
        for (const n of t.nodes) descendants(n, k.slice(2), out);
        return makeList(out);
      }
      if (k.startsWith('@')) return attrValue([].concat(...t.nodes.map((n) => attrNodes(n, k.slice(1)))));
      if (t.nodes.length === 1) return wrap(t.nodes[0])[k];
      return makeList([].concat(...t.nodes.map(
          (n) => (n.children || []).filter((c) => c.kind === 'element' && (k === '*' || c.name === k)))));
    },
    set(t, k, v) {
      if (typeof k === 'string' && /^\d+$/.test(k)) return assignAt(t, Number(k), v);
      if (t.nodes.length === 0 && t.origin) t.nodes.push(newChild(t.origin));
      if (t.nodes.length === 1) {
        wrap(t.nodes[0])[k] = v;
        return true;
      }
      throw new TypeError('cannot assign ' + String(k) + ' on an XMLList of ' + t.nodes.length + ' nodes');
    },
    has(t, k) { return typeof k === 'string' && /^\d+$/.test(k) && k < t.nodes.length; },
    ownKeys(t) { return t.nodes.map((_, i) => String(i)); },
    getOwnPropertyDescriptor(t, k) {
      if (typeof k === 'string' && /^\d+$/.test(k) && k < t.nodes.length) {
        return {value: wrap(t.nodes[k]), enumerable: true, configurable: true, writable: true};
      }
      return undefined;
    },
  };
  // `origin` ({parent, name}) for a list of child elements read by name: an
  // assignment through an empty list creates the element, as E4X does
  // (x.c.@d = 1 makes <c d="1"/>; x.c[1] = "v" on one <c> adds a second).
  function makeList(nodes, origin) {
    const target = {nodes, origin};
    return new Proxy(target, listHandler);
  }
  // An attribute read is a list of attribute nodes, as in E4X: x.@id.length() is
  // 1 or 0, and converted (String(x.@id), x.@id == "1", "id " + x.@id) it is the
  // value, "" when absent; several (x.c.@n, x..@id) concatenate.
  function attrValue(attrs) {
    return makeList(attrs);
  }
  function newChild(origin) {
    const c = {kind: 'element', name: origin.name, attrs: [], children: [], parent: origin.parent};
    origin.parent.children.push(c);
    changed(origin.parent);
    return c;
  }
  // Puts `v` at list position i: an element's content (or the element itself when v
  // is that element), an attribute's value.
  function assignAt(t, i, v) {
    let n = t.nodes[i];
    if (n === undefined) {
      if (i !== t.nodes.length || !t.origin) {
        throw new TypeError('cannot assign [' + i + '] on an XMLList of ' + t.nodes.length + ' nodes');
      }
      n = newChild(t.origin);
      t.nodes.push(n);
    }
    if (n.kind === 'attribute') {
      const ns = nodesOf(v);
      n.value = ns !== null ? ns.map(textOf).join('') : String(v);
      const a = n.parent.attrs.find((x) => x[0] === n.name);
      if (a) a[1] = n.value;
      changed(n.parent);
      return true;
    }
    if (n.kind !== 'element') throw new TypeError('cannot assign a ' + n.kind + ' node');
    const ns = nodesOf(v);
    if (ns !== null && ns.length === 1 && ns[0].kind === 'element' && n.parent) {
      const c = copyNode(ns[0], n.parent);
      n.parent.children[n.parent.children.indexOf(n)] = c;
      changed(n.parent);
      t.nodes[i] = c;
      return true;
    }
    n.children = toChildNodes(v, n);
    changed(n);
    return true;
  }

  // ---------------------------------------------------------------- XML
  function appendTo(n, child) {
    if (n.kind !== 'element') throw new TypeError('appendChild on a ' + n.kind + ' node');
    changed(n);
    const t = targetOf(child);
    if (t !== undefined && t.nodes === undefined) {
      n.children.push(adopt(t.node, n));  // the loop's case: one element
    } else {
      n.children.push(...toChildNodes(child, n));
    }
  }
  const methods = {
    toXMLString() { return serialize(this[NODE]); },
    // JSON.stringify(x) is its XML text, not the proxy's insides.
    toJSON() { return serialize(this[NODE]); },
    toString() {
      const n = this[NODE];
      return simple(n) ? textOf(n) : serialize(n);
    },
    valueOf() { return this; },
    name() { return this[NODE].name; },
    localName() {
      const name = this[NODE].name || '';
      return name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
    },
    nodeKind() { return this[NODE].kind; },
    length() { return 1; },
    appendChild(child) {
      appendTo(this[NODE], child);
      return this;
    },
    prependChild(child) {
      const n = this[NODE];
      n.children.unshift(...toChildNodes(child, n));
      changed(n);
      return this;
    },
    setChildren(value) {
      const n = this[NODE];
      n.children = toChildNodes(value, n);
      changed(n);
      return this;
    },
    children() { return makeList((this[NODE].children || []).slice()); },
    elements(name) {
      return makeList((this[NODE].children || [])
          .filter((c) => c.kind === 'element' && (name === undefined || c.name === String(name))));
    },
    child(name) {
      if (typeof name === 'number') return makeList((this[NODE].children || []).slice(name, name + 1));
      return this.elements(String(name));
    },
    text() { return makeList((this[NODE].children || []).filter((c) => c.kind === 'text')); },
    attribute(name) { return makeList(attrNodes(this[NODE], String(name))); },
    attributes() { return makeList(attrNodes(this[NODE], '*')); },
    descendants(name) {
      const out = [];
      descendants(this[NODE], name === undefined ? '*' : String(name), out);
      return makeList(out);
    },
    parent() { return this[NODE].parent ? wrap(this[NODE].parent) : undefined; },
    childIndex() {
      const n = this[NODE];
      return n.parent ? n.parent.children.indexOf(n) : -1;
    },
    copy() { return wrap(copyNode(this[NODE], null)); },
    hasSimpleContent() { return simple(this[NODE]); },
    hasComplexContent() { return !simple(this[NODE]); },
    hasOwnProperty(k) {
      const n = this[NODE];
      if (typeof k === 'string' && k.startsWith('@')) return n.attrs.some((a) => a[0] === k.slice(1));
      return (n.children || []).some((c) => c.kind === 'element' && c.name === k);
    },
  };
  const methodSet = new Set(Object.keys(methods));
  const handler = {
    get(t, k, receiver) {
      const n = t.node;
      if (k === 'appendChild') {
        // c.appendChild(<r …/>) in a loop: a closure over the target (no trap to find the node)
        return t.append || (t.append = (child) => {
          appendTo(t.node, child);
          return receiver;
        });
      }
      if (k === TARGET) return t;
      if (k === NODE) return n;
      if (k === LIST) return false;
      if (k === Symbol.iterator) return function* () { yield receiver; };
      if (k === Symbol.toPrimitive) return () => methods.toString.call(receiver);
      if (typeof k === 'symbol') return undefined;
      if (methodSet.has(k)) return bound(t, methods, k, receiver);
      if (k === '0') return receiver;
      if (/^\d+$/.test(k)) return undefined;
      if (k === 'constructor') return XML;
      if (k.startsWith('..@')) {
        const out = [];
        attrDescendants(n, k.slice(3), out);
        return attrValue(out);
      }
      if (k.startsWith('..')) {
        const out = [];
        descendants(n, k.slice(2), out);
        return makeList(out);
      }
      if (k.startsWith('@')) {
        return makeList(attrNodes(n, k.slice(1)));
      }
      if (n.kind !== 'element') return makeList([]);
      return makeList(n.children.filter((c) => c.kind === 'element' && (k === '*' || c.name === k)),
                      k === '*' ? undefined : {parent: n, name: k});
    },
    set(t, k, v) {
      const n = t.node;
      if (typeof k !== 'string' || n.kind !== 'element') throw new TypeError('cannot assign ' + String(k));
      if (k.startsWith('@')) {
        const name = k.slice(1);
        if (!isName(name)) throw new TypeError('not an attribute name: ' + name);
        const nodes = nodesOf(v);
        const value = nodes !== null ? nodes.map(textOf).join('') : String(v);
        const a = n.attrs.find((x) => x[0] === name);
        if (a) a[1] = value; else n.attrs.push([name, value]);
        changed(n);
        return true;
      }
      if (!isName(k)) throw new TypeError('not an element name: ' + k);
      const i = n.children.findIndex((c) => c.kind === 'element' && c.name === k);
      const nodes = nodesOf(v);
      if (nodes !== null && nodes.length === 1 && nodes[0].kind === 'element' && nodes[0].name === k) {
        const c = copyNode(nodes[0], n);
        if (i >= 0) n.children[i] = c; else n.children.push(c);
        changed(n);
        return true;
      }
      const c = i >= 0 ? n.children[i] : {kind: 'element', name: k, attrs: [], children: [], parent: n};
      c.children = toChildNodes(v, c);
      changed(c);
      if (i < 0) n.children.push(c);
      changed(n);
      return true;
    },
    deleteProperty(t, k) {
      const n = t.node;
      if (typeof k !== 'string' || n.kind !== 'element') return true;
      if (k.startsWith('@')) n.attrs = n.attrs.filter((a) => a[0] !== k.slice(1));
      else n.children = n.children.filter((c) => !(c.kind === 'element' && c.name === k));
      changed(n);
      return true;
    },
    has(t, k) {
      return typeof k === 'string' && methods.hasOwnProperty.call({[NODE]: t.node}, k);
    },
  };
  function wrap(n) {
    lastTarget = {node: n};
    lastProxy = new Proxy(lastTarget, handler);
    return lastProxy;
  }
  function fromValue(value) {
    const ns = nodesOf(value);
    if (ns !== null) return ns;
    if (value === undefined || value === null) return [];
    return parse(value);
  }

  function XML(value) {
    const ns = fromValue(value);
    if (ns.length === 0) return wrap({kind: 'text', value: '', parent: null});
    if (ns.length !== 1) throw new SyntaxError('XML(): the text holds ' + ns.length + ' nodes, not one element');
    return nodesOf(value) !== null && !new.target ? value : wrap(new.target ? copyNode(ns[0], null) : ns[0]);
  }
  function XMLList(value) { return makeList(fromValue(value)); }
  Object.defineProperty(XML, Symbol.hasInstance, {value: (v) => nodesOf(v) !== null && !v[LIST]});
  Object.defineProperty(XMLList, Symbol.hasInstance, {value: (v) => nodesOf(v) !== null && v[LIST] === true});

  // ---------------------------------------------------------------- the transform's targets
  // __sbXml``(piece0, e0, piece1, …, kinds): the empty tagged template's strings
  // array is one object per place in the source, so each place gets one builder.
  // Its first call parses the literal — the {expr} slots as markers, an attribute
  // value "\uE000N\uE000", an element <__sb-slot-N/> in content — into a plan;
  // every call instantiates the plan with the values (arguments 1, 3, 5, …).
  // Values are never escaped into text and re-parsed.
  const sites = new WeakMap();
  const SLOT_ATTR = /^\uE000(\d+)\uE000$/;
  const SLOT_ELEMENT = /^__sb-slot-(\d+)$/;
  function compileSite(args, list) {
    const kinds = args[args.length - 1];
    let text = args[0];
    for (let i = 0; i < kinds.length; ++i) {
      text += (kinds[i] === 'a' ? '"\uE000' + i + '\uE000"' : '<__sb-slot-' + i + '/>') + args[2 * i + 2];
    }
    const nodes = list ? parse('<sbList>' + text.replace(/^<>|<\/>$/g, '') + '</sbList>')[0].children :
                         parse(text).filter((n) => n.kind === 'element');
    if (!list && nodes.length !== 1) throw new SyntaxError('an XML literal must hold one element');
    return nodes.map(planOf);
  }
  // The parsed literal as a plan: slots found (as argument indexes), names and values kept.
  function planOf(n) {
    if (n.kind !== 'element') return {kind: n.kind, value: n.value};
    const slot = SLOT_ELEMENT.exec(n.name);
    if (slot !== null) return {kind: 'slot', arg: 2 * Number(slot[1]) + 1};
    return {
      kind: 'element',
      name: n.name,
      attrs: n.attrs.map(([k, a]) => {
        const m = SLOT_ATTR.exec(a);
        return m === null ? {name: k, value: a, arg: -1} : {name: k, value: '', arg: 2 * Number(m[1]) + 1};
      }),
      children: n.children.map(planOf),
    };
  }
  function attrText(v) {
    if (typeof v === 'string') return v;
    const ns = nodesOf(v);
    return ns !== null ? ns.map(textOf).join('') : String(v);
  }
  // A content slot's value into `out` (the children of `parent`).
  function slotInto(v, parent, out) {
    if (v === '') return;
    if (v === undefined || v === null) {
      out.push({kind: 'text', value: String(v), parent});
      return;
    }
    const ns = toChildNodes(v, parent);
    for (let i = 0; i < ns.length; ++i) out.push(ns[i]);
  }
  // The place's builder, generated once from its plans: straight-line code that
  // makes the nodes (no interpretation of the plan, no arguments object per call).
  // Names and texts are read from `C` (never spliced into the code); arguments
  // are a0 (the first piece), a1 (the first value), … as the transform passes them.
  function generate(plans, argc, list) {
    const C = [];
    const lines = [];
    let vars = 0;
    const constant = (v) => 'C[' + (C.push(v) - 1) + ']';
    function emit(plan, container, parent) {
      switch (plan.kind) {
        case 'element': {
          const n = 'n' + vars++;
          // Attribute values from slots first, each once: `v_n_i`.
          const values = plan.attrs.map((a, i) => {
            if (a.arg < 0) return constant(a.value);
            lines.push('const ' + n + '_' + i + ' = T(a' + a.arg + ');');
            return n + '_' + i;
          });
          const attrs = plan.attrs.map((a, i) => '[' + constant(a.name) + ', ' + values[i] + ']');
          // Without element children or content slots, the serialization is made here:
          // the static text escaped now, the values escaped by E.
          let xml = 'undefined';
          if (plan.children.every((c) => c.kind !== 'element' && c.kind !== 'slot')) {
            const parts = [];
            let text = '<' + plan.name;
            plan.attrs.forEach((a, i) => {
              text += ' ' + a.name + '="';
              if (a.arg < 0) {
                text += escAttr(a.value);
              } else {
                parts.push(constant(text), 'E(' + values[i] + ')');
                text = '';
              }
              text += '"';
            });
            if (plan.children.length === 0) {
              text += '/>';
            } else {
              text += '>' + plan.children.map((c) => serialize({kind: c.kind, value: c.value})).join('') + '</' + plan.name + '>';
            }
            parts.push(constant(text));
            xml = parts.join(' + ');
          }
          lines.push('const ' + n + ' = {kind: "element", name: ' + constant(plan.name) + ', attrs: [' + attrs.join(', ') +
                     '], children: [], parent: ' + parent + ', xml: ' + xml + '};');
          if (container !== null) lines.push(container + '.push(' + n + ');');
          for (const c of plan.children) emit(c, n + '.children', n);
          return n;
        }
        case 'slot':
          lines.push('S(a' + plan.arg + ', ' + parent + ', ' + container + ');');
          return null;
        default:
          lines.push(container + '.push({kind: ' + constant(plan.kind) + ', value: ' + constant(plan.value) + ', parent: ' + parent + '});');
          return null;
      }
    }
    if (list) {
      lines.push('const out = [];');
      for (const p of plans) emit(p, 'out', 'null');
      lines.push('return M(out);');
    } else {
      lines.push('return W(' + emit(plans[0], null, 'null') + ');');
    }
    const params = [];
    for (let i = 0; i < argc; ++i) params.push('a' + i);
    const body = '"use strict"; return function (' + params.join(', ') + ') {\n' + lines.join('\n') + '\n};';
    return new Function('C', 'T', 'S', 'W', 'M', 'E', body)(C, attrText, slotInto, wrap, makeList, escAttr);
  }
  let lastStrings = null;  // the place evaluated last (a loop's literal): no WeakMap lookup
  let lastBuild = null;
  function site(strings, list) {
    if (strings === lastStrings) return lastBuild;
    let build = sites.get(strings);
    if (build === undefined) {
      build = function () {
        const f = generate(compileSite(arguments, list), arguments.length, list);
        sites.set(strings, f);
        if (lastStrings === strings) lastBuild = f;
        return f.apply(null, arguments);
      };
      sites.set(strings, build);
    }
    lastStrings = strings;
    lastBuild = build;
    return build;
  }
  function xmlLiteral(strings) { return site(strings, false); }
  function xmlListLiteral(strings) { return site(strings, true); }
  function each(v) {
    if (v === null || v === undefined) return [];
    if (nodesOf(v) !== null || Array.isArray(v) || typeof v[Symbol.iterator] === 'function') return v;
    return Object.keys(v).map((k) => v[k]);  // for each over an object: its values
  }

  // ---------------------------------------------------------------- services
  function toArg(v) {
    const ns = nodesOf(v);
    if (ns !== null && ns.every((n) => n.kind === 'attribute' || n.kind === 'text')) return ns.map(textOf).join('');
    if (ns !== null) return {xml: ns.map(serialize).join('')};
    if (v === undefined || v === null) return '';
    return typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
  }
  function fromOut(out) {
    const [type, value] = out;
    if (type === 'ns:Element' || type === 'DOMDocument' || type === 'DOMElement') {
      return value === '' ? null : wrap(parse(value).find((n) => n.kind === 'element'));
    }
    if (type === 'xsd:boolean') return value === 'true' || value === '1';
    if (type === 'xsd:int' || type === 'xsd:long' || type === 'xsd:short' || type === 'xsd:byte' ||
        type === 'xsd:double' || type === 'xsd:float') {
      return Number(value);
    }
    return value;
  }
  // A fault's code ("STG-200003", the start of its message) as e.code.
  const FAULT_CODE = /^([A-Z]{3}-\d{6})\b/;
  function invoke(service, method, args) {
    let outs;
    try {
      outs = call(service, method, args.map(toArg));
    } catch (e) {
      const m = e instanceof Error ? FAULT_CODE.exec(e.message) : null;
      if (m !== null) e.code = m[1];
      throw e;
    }
    if (outs.length === 0) return undefined;
    if (outs.length === 1) return fromOut(outs[0]);
    return outs.map(fromOut);
  }
  function missing(name) {
    return function () { throw new TypeError('not available in stagebridge: ' + name); };
  }
  const skip = new Set(['then', 'toJSON', 'constructor', 'valueOf', 'toString']);
  // xtk.session, nms.subscription, …: a method of the service, or a throwing stub.
  function serviceObject(id, display) {
    const cache = {};
    return new Proxy({}, {
      get(t, k) {
        if (typeof k === 'symbol' || skip.has(k)) return undefined;
        if (k === 'create') {
          // xtk.queryDef.create(<queryDef …/>): an entity whose methods apply to it.
          return (entity) => entityObject(id, display, entity);
        }
        if (!(k in cache)) {
          cache[k] = known.has(id + '#' + k) ? (...args) => invoke(id, k, args) :
                                                            missing(display + '.' + k);
        }
        return cache[k];
      },
    });
  }
  function entityObject(id, display, entity) {
    const doc = typeof entity === 'string' ? new XML(entity) : entity;
    return new Proxy({}, {
      get(t, k) {
        if (typeof k === 'symbol' || skip.has(k)) return undefined;
        if (k === 'entity') return doc;
        if (!known.has(id + '#' + k)) return missing(display + '.' + k);
        return (...args) => invoke(id, k, [doc].concat(args));
      },
    });
  }
  function namespaceObject(ns) {
    const cache = {};
    return new Proxy({}, {
      get(t, k) {
        if (typeof k === 'symbol' || skip.has(k)) return undefined;
        if (!(k in cache)) cache[k] = serviceObject(ns + ':' + k, ns + '.' + k);
        return cache[k];
      },
    });
  }

  const define = (name, value) =>
      Object.defineProperty(global, name, {value, writable: false, enumerable: false, configurable: false});
  define('__sbXml', xmlLiteral);
  define('__sbXmlList', xmlListLiteral);
  define('__sbEach', each);
  global.XML = XML;
  global.XMLList = XMLList;
  global.xtk = namespaceObject('xtk');
  global.nms = namespaceObject('nms');
  global.logInfo = (...a) => log('info', a.map(String).join(' '));
  global.logWarning = (...a) => log('warning', a.map(String).join(' '));
  global.logError = (...a) => {
    const text = a.map(String).join(' ');
    log('error', text);
    throw new Error(text);  // like the platform: logError stops the activity
  };
  global.logVerbose = (...a) => log('verbose', a.map(String).join(' '));
  global.getOption = (name) => option(String(name));
  global.instance = {vars: {}};
  global.vars = global.instance.vars;
  for (const name of ['sqlExec', 'sqlGetInt', 'sqlGetString', 'sqlGetDouble', 'sqlGetDate', 'sqlGetMemo', 'sqlSelect',
    'execCommand', 'loadLibrary', 'getUrl', 'setOption', 'HttpClientRequest', 'File', 'FileSystem', 'Socket',
    'DBEngine', 'ZipFile', 'MemoryBuffer', 'JSPSpec', 'NLWS', 'application', 'task', 'event', 'events',
    'sleep', 'formatDate', 'parseTimeStamp']) {
    global[name] = missing(name);
  }
})(this);
