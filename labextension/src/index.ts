import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-dataops:panel',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    console.log('jupyter-dataops activated');
  }
};
export default plugin;
