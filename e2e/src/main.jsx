// The page under test: the official next-auth/react (v5) client against portcullis.
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { SessionProvider, useSession, signIn, signOut } from 'next-auth/react';

function App() {
  const { data: session, status, update } = useSession();
  const [username, setUsername] = useState('alice');
  const [password, setPassword] = useState('');
  const [result, setResult] = useState('');
  const [busy, setBusy] = useState(false);

  async function run(action) {
    setBusy(true);
    try {
      await action();
    } catch (e) {
      setResult(JSON.stringify({ thrown: String(e?.message ?? e) }));
    } finally {
      setBusy(false);
    }
  }

  const onSignIn = (e) => {
    e.preventDefault();
    run(async () => {
      const r = await signIn('credentials', { username, password, redirect: false });
      // Only the fields a test can rely on; `url` carries the random port.
      setResult(JSON.stringify({ ok: r?.ok, error: r?.error ?? null, code: r?.code ?? null, status: r?.status }));
    });
  };

  return (
    <main style={{ fontFamily: 'sans-serif', maxWidth: 640, margin: '2rem auto' }}>
      <h1>portcullis × next-auth/react</h1>
      <p>
        Status: <strong data-testid="status">{status}</strong>
        {busy ? <span data-testid="busy"> (working…)</span> : null}
      </p>
      <pre data-testid="session" style={{ background: '#f4f4f4', padding: '1rem' }}>
        {session ? JSON.stringify(session, null, 2) : 'null'}
      </pre>
      <form onSubmit={onSignIn}>
        <label>
          Username <input data-testid="username" value={username} onChange={(e) => setUsername(e.target.value)} />
        </label>{' '}
        <label>
          Password{' '}
          <input data-testid="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>{' '}
        <button data-testid="sign-in" type="submit" disabled={busy}>Sign in</button>
      </form>
      <p>
        Sign-in result: <code data-testid="signin-result">{result}</code>
      </p>
      <p>
        <button data-testid="rename" disabled={busy || status !== 'authenticated'} onClick={() => run(() => update({ name: 'Alice Liddell' }))}>
          Rename
        </button>{' '}
        <button data-testid="sign-out" disabled={busy || status !== 'authenticated'} onClick={() => run(() => signOut({ redirect: false }))}>
          Sign out
        </button>{' '}
        <a href="/protected">Protected page</a>
      </p>
    </main>
  );
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <SessionProvider basePath="/api/auth">
      <App />
    </SessionProvider>
  </StrictMode>,
);
