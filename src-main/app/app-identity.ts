/** Name and version come from package.json so that the build, the installer and the UI agree. */
import { productName, version } from '../../package.json';

export const APP_NAME: string = productName;
export const APP_VERSION: string = version;
/** Reverse-DNS id shared with electron-builder.yml (appId) and the OS keychain service name. */
export const APP_ID = 'org.reload-softphone.app';
