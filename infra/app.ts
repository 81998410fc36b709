import { createWalwatchApp } from './create-app.js';

createWalwatchApp();
