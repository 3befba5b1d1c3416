// The theme and shared base styles first: each page's own stylesheet (imported with the
// page) comes later in the bundle, so its rules win over the base ones they refine.
import './theme.css';
import './base.css';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import {
  createBrowserRouter,
  type LoaderFunctionArgs,
  Navigate,
  RouterProvider,
  type ShouldRevalidateFunctionArgs,
  useParams,
} from 'react-router';
import { basePath, routerBasename } from './api/base';
import { ApiError } from './api/client';
import { ALL_RUNS } from './api/events';
import { prefetchRunPage, prefetchRunsPage, prefetchTaskPage } from './api/queries';
import { createLive, LiveProvider } from './api/useLive';
import { Layout } from './components/Layout';
import { runsUrl, runUrl } from './components/paths';
import { PrefsProvider } from './components/prefs';
import { EmptyState } from './components/States';
import { filtersToParams, parseFilters } from './runs/filters';
import { RunsPage } from './runs/RunsPage';

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

// Each page's loader starts the page's first requests and its event stream, and returns
// nothing: the page reads its data through its own queries, which find those requests
// under way, and takes the stream over. The runs list, the first page of most visits, is
// in the main bundle; every other page is a chunk of its own, which the router loads in
// parallel with the loader's requests.
function runsLoader({ request }: LoaderFunctionArgs) {
  live.streams.reserve(ALL_RUNS);
  const filters = parseFilters(new URL(request.url).searchParams);
  // A relative range follows the page's clock, which may round to another minute: the
  // page asks for that list itself.
  if (!filters.range) prefetchRunsPage(queryClient, filtersToParams(filters, Date.now()));
  return null;
}

function flowsLoader() {
  live.streams.reserve(ALL_RUNS);
  return null;
}

function runLoader({ params }: LoaderFunctionArgs) {
  const { flow = '', run = '' } = params;
  live.streams.reserve({ kind: 'run', flow, run });
  prefetchRunPage(queryClient, flow, run);
  return null;
}

function taskLoader({ params }: LoaderFunctionArgs) {
  const { flow = '', run = '', step = '', task = '' } = params;
  live.streams.reserve({ kind: 'task', flow, run, step, task });
  prefetchTaskPage(queryClient, { flow, run, step, task });
  return null;
}

// A loader serves the arrival on a page. Within the page (a tab, a filter, a selected task:
// the query string) the page's own queries follow along; rerunning the loader there, as
// the router would by default, asked again for a run and its steps at each tab change
// once they were ten seconds old.
function onArrival({ currentUrl, nextUrl }: ShouldRevalidateFunctionArgs) {
  return currentUrl.pathname !== nextUrl.pathname;
}

// While the first page's code loads, the top bar is drawn and the page's place left empty.
function PageLoading() {
  return null;
}

const router = createBrowserRouter(
  [
    {
      element: <Layout />,
      children: [
        {
          path: '/',
          element: <RunsPage />,
          loader: runsLoader,
          shouldRevalidate: onArrival,
          HydrateFallback: PageLoading,
        },
        {
          path: '/flows',
          loader: flowsLoader,
          shouldRevalidate: onArrival,
          lazy: () => import('./runs/FlowsPage').then((m) => ({ Component: m.FlowsPage })),
          HydrateFallback: PageLoading,
        },
        { path: '/:flow', element: <FlowRedirect /> },
        {
          path: '/:flow/:run',
          loader: runLoader,
          shouldRevalidate: onArrival,
          lazy: () => import('./run/RunPage').then((m) => ({ Component: m.RunPage })),
          HydrateFallback: PageLoading,
        },
        { path: '/:flow/:run/:step', element: <StepRedirect /> },
        {
          path: '/:flow/:run/:step/:task',
          loader: taskLoader,
          shouldRevalidate: onArrival,
          lazy: () => import('./task/TaskPage').then((m) => ({ Component: m.TaskPage })),
          HydrateFallback: PageLoading,
        },
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
