export { DASHBOARD_PATHS, dashboardRoute } from './dashboard-route.ts';
export { runnerApi, type ForegroundJob } from './runner-api.ts';
export { serveDashboard, type DashboardServerOptions } from './serve-dashboard.ts';
