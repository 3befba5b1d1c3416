// The theme and shared base styles first: each page's own stylesheet (imported with the
// page) comes later in the bundle, so its rules win over the base ones they refine.
import './theme.css';
import './base.css';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, Navigate, RouterProvider, useParams } from 'react-router';
import { basePath, routerBasename } from './api/base';
import { ApiError } from './api/client';
import { createLive, LiveProvider } from './api/useLive';
import { Layout } from './components/Layout';
import { runsUrl, runUrl } from './components/paths';
import { PrefsProvider } from './components/prefs';
import { EmptyState } from './components/States';
import { RunPage } from './run/RunPage';
import { FlowsPage } from './runs/FlowsPage';
import { RunsPage } from './runs/RunsPage';
import { TaskPage } from './task/TaskPage';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // A 4xx will not get better by asking again.
      retry: (count, err) =>
        !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 2,
    },
  },
});

// Live updates from the server's event stream go straight into the query cache.
const live = createLive(queryClient);

function FlowRedirect() {
  const { flow = '' } = useParams();
  return <Navigate to={runsUrl({ flow_id: flow })} replace />;
}

function StepRedirect() {
  const { flow = '', run = '', step = '' } = useParams();
  return <Navigate to={runUrl(flow, run, { tab: 'tasks', step })} replace />;
}

function NotFound() {
  return (
    <EmptyState title="No page here.">
      URLs follow pathspecs: <code>/Flow/Run</code> or <code>/Flow/Run/Step/Task</code>.
    </EmptyState>
  );
}

const router = createBrowserRouter(
  [
    {
      element: <Layout />,
      children: [
        { path: '/', element: <RunsPage /> },
        { path: '/flows', element: <FlowsPage /> },
        { path: '/:flow', element: <FlowRedirect /> },
        { path: '/:flow/:run', element: <RunPage /> },
        { path: '/:flow/:run/:step', element: <StepRedirect /> },
        { path: '/:flow/:run/:step/:task', element: <TaskPage /> },
        { path: '*', element: <NotFound /> },
      ],
    },
  ],
  { basename: routerBasename(basePath) },
);

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <PrefsProvider>
        <QueryClientProvider client={queryClient}>
          <LiveProvider live={live}>
            <RouterProvider router={router} />
          </LiveProvider>
        </QueryClientProvider>
      </PrefsProvider>
    </StrictMode>,
  );
}
