import { mount } from 'svelte';
import App from './App.svelte';
import { createClient, detectTransport, type Client } from './bridge';
import './theme.css';

let client: Client | undefined;
let bridgeError: string | undefined;
try {
  client = createClient(detectTransport(window));
} catch (error) {
  bridgeError = error instanceof Error ? error.message : String(error);
}

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
mount(App, { target, props: { client, bridgeError } });
