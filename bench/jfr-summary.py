# The CPU samples and allocation of a JFR recording of bench/profile.sh, grouped by the deepest frame's package.
# usage: jfr-summary.py REC.jfr REQUESTS [SITES]; reads the recording with JDK 25's jfr (JFR env variable to override)
import json,subprocess,sys,collections
f=sys.argv[1]; reqs=int(sys.argv[2]) if len(sys.argv)>2 else 0
J=__import__('os').environ.get('JFR', '/usr/lib/jvm/temurin-25-jdk-amd64/bin/jfr')
def ev(name):
    out=subprocess.run([J,'print','--json','--stack-depth','96','--events',name,f],capture_output=True,text=True).stdout
    return json.loads(out)['recording']['events']
def frames(e):
    st=e['values'].get('stackTrace')
    if not st: return []
    return [(fr['method']['type']['name']+'.'+fr['method']['name']).replace('/','.') for fr in st['frames']]
CATS=[('logging (logback, MDC)',('ch.qos.logback','org.slf4j')),
      ('request id (UUID, SecureRandom)',('java.util.UUID','sun.security','java.security')),
      ('JSON parse (Jackson readTree)',('ObjectMapper.readTree','ObjectMapper._readTreeAndClose','JsonParser','ReaderBasedJsonParser','UTF8StreamJsonParser')),
      ('JSON render (Jackson writeValue)',('ObjectMapper.writeValue','JsonGenerator','UTF8JsonGenerator','ser.std','DefaultSerializerProvider')),
      ('DJL predict / NDManager / JNI',('ai.djl',)),
      ('hand-off (queue, future, park/unpark)',('dev.modelcache.inference.Batcher','CompletableFuture','LockSupport','LinkedBlockingQueue','AbstractQueuedSynchronizer')),
      ('tensor task (parse/render/translate)',('dev.modelcache.inference.Tensor',)),
      ('metrics (micrometer)',('io.micrometer',)),
      ('Javalin',('io.javalin',)),
      ('Jetty (HTTP)',('org.eclipse.jetty',)),
]
def classify(fs):
    # deepest (leaf-most) category wins: iterate from leaf
    for fr in fs:
        for name,keys in CATS:
            if any(k in fr for k in keys): return name
    return 'other: '+(fs[0] if fs else '?')
s=ev('jdk.ExecutionSample')
c=collections.Counter(classify(frames(e)) for e in s)
n=len(s); print(f'execution samples: {n}')
for k,v in c.most_common(16): print(f'  {100*v/n:5.1f}%  {k}')
# inclusive: samples with any frame in our classes
inc=collections.Counter()
for e in s:
    seen=set()
    for fr in frames(e):
        if fr.startswith('dev.modelcache'): seen.add(fr)
    for fr in seen: inc[fr]+=1
print('inclusive dev.modelcache frames:')
for k,v in inc.most_common(14): print(f'  {100*v/n:5.1f}%  {k}')
a=ev('jdk.ObjectAllocationSample')
tot=sum(e['values']['weight'] for e in a)
print(f'allocation samples {len(a)}, weight {tot/1e6:.1f} MB' + (f', {tot/reqs:.0f} B/request' if reqs else ''))
ac=collections.Counter()
for e in a:
    fs=frames(e)
    site=next((fr for fr in fs if fr.startswith('dev.modelcache')), fs[0] if fs else '?')
    ac[classify(fs)]+=e['values']['weight']
for k,v in ac.most_common(12): print(f'  {100*v/tot:5.1f}%  {k}' + (f'  {v/reqs:.0f} B/req' if reqs else ''))
print('allocation sites (leaf frame <- nearest dev.modelcache frame):')
sc=collections.Counter()
for e in a:
    fs=frames(e)
    mine=next((fr for fr in fs if fr.startswith('dev.modelcache')), '')
    sc[(classify(fs), fs[0] if fs else '?', mine)]+=e['values']['weight']
for k,v in sc.most_common(int(sys.argv[3]) if len(sys.argv)>3 else 25): print(f'  {v/max(reqs,1):6.0f} B/req  {k[0][:14]:14} {k[1][-60:]:60} <- {k[2][-55:]}')
