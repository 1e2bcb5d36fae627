export { DASHBOARD_PATHS, dashboardRoute } from './dashboard-route.ts';
